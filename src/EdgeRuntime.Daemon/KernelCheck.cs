using EdgeRuntime.Kernels;
using EdgeRuntime.Kernels.SelfCheck;

namespace EdgeRuntime.Daemon;

/// <summary>`edged --check-kernels`: the kernels' self-check on this CPU, one line per kernel and path.</summary>
internal static class KernelCheck
{
    public static int Run()
    {
        Console.WriteLine($"edged {EdgeDaemon.Version} kernel check on {PlatformDescription.Cpu()}; default path {KernelPaths.Describe(KernelPaths.Best)}");
        Console.WriteLine("in use (chosen at start from this CPU):");
        foreach (var form in KernelForms.Current)
        {
            Console.WriteLine($"  {form.Kernel,-26} {form.Form}");
        }

        Console.WriteLine(KernelForms.NativeSummary(KernelPaths.Current));

        Console.WriteLine("self-check, every path this CPU supports:");
        bool ok = true;
        foreach (var result in KernelSelfCheck.Run())
        {
            string verdict = result.Failures.Count == 0 ? "ok" : $"FAILED ({string.Join("; ", result.Failures)})";
            Console.WriteLine($"{KernelPaths.Describe(result.Path),-12} {result.Kernel,-26} {result.Cases,4} cases  {verdict}");
            ok &= result.Failures.Count == 0;
        }

        Console.WriteLine(ok ? "all kernels agree with their references" : "some kernel disagrees with its reference");
        return ok ? 0 : 1;
    }
}
