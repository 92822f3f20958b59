using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using EdgeRuntime.Kernels;

namespace EdgeRuntime.Daemon;

/// <summary>
/// The runtime identifier, the SIMD features this process may use as Native AOT detected them, and the form each kernel
/// runs (<see cref="KernelForms"/>).
/// </summary>
internal static class PlatformDescription
{
    /// <summary>hello's platform string: the CPU line and the kernels' forms.</summary>
    public static string Current() => $"{Cpu()}; kernels: {KernelForms.Summary(KernelForms.Current)}";

    /// <summary>"linux-x64 (Sse4.2, Avx2, AvxVnni)": the runtime identifier and the features detected.</summary>
    public static string Cpu()
    {
        var features = new List<string>();
        if (RuntimeInformation.ProcessArchitecture == Architecture.Arm64)
        {
            Add(features, AdvSimd.IsSupported, "AdvSimd");
            Add(features, Dp.IsSupported, "Dp");
            Add(features, Rdm.IsSupported, "Rdm");
            Add(features, System.Runtime.Intrinsics.Arm.Crc32.IsSupported, "Crc32");
            Add(features, System.Runtime.Intrinsics.Arm.Aes.IsSupported, "Aes");
        }
        else
        {
            Add(features, Sse42.IsSupported, "Sse4.2");
            Add(features, Avx2.IsSupported, "Avx2");
            Add(features, Avx512F.IsSupported, "Avx512F");
            Add(features, AvxVnni.IsSupported, "AvxVnni");
        }

        return $"{RuntimeInformation.RuntimeIdentifier} ({(features.Count == 0 ? "baseline" : string.Join(", ", features))})";
    }

    private static void Add(List<string> features, bool supported, string name)
    {
        if (supported)
        {
            features.Add(name);
        }
    }
}
