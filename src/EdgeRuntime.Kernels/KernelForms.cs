using System.Runtime.InteropServices;
using EdgeRuntime.Kernels.Native;

namespace EdgeRuntime.Kernels;

/// <summary>One kernel and the code it runs on this CPU.</summary>
public sealed record KernelForm(string Kernel, string Form);

/// <summary>
/// What each kernel runs on this CPU along a path: the path itself plus the instruction-set extensions a kernel picks
/// inside it at run time (AVX-VNNI's vpdpbusd on x64, SDOT on arm64). Native AOT keeps those extensions run-time checks
/// in a binary built for a lower baseline, so the same edged takes them on CPUs that have them. `edged --check-kernels`
/// prints this and hello's platform string carries it, so a board's log says which code produced its figures.
/// </summary>
public static class KernelForms
{
    /// <summary>The forms of this process's choice (the CPU's, narrowed by the board profile if it says so).</summary>
    public static IReadOnlyList<KernelForm> Current => Describe(KernelPaths.Current);

    public static IReadOnlyList<KernelForm> Describe(KernelChoice choice)
    {
        var path = choice.Path;
        string plain = KernelPaths.Describe(path, choice.DotProduct);
        string nbitsInt8 = Wide(path) ? WithVnni("Vector256 8 rows", choice.Vnni) : plain;
        return
        [
            // Without VNNI a batch takes two weight rows per pass (TwoRows256x4); with it, one. With AVX-512 VNNI native
            // kernels take 2-bit batches (four rows by four tokens) and single 2-bit tokens (a row at a time, prefetching).
            // On arm64 with I8MM, batches of the 2-bit layout, of 4-bit MatMulNBits and of prepacked MatMulInteger go to the
            // native USMMLA kernels; single tokens stay with SDOT.
            new("BitLinear 1 token", Wide(path) && choice.Avx512Vnni ? Native : plain),
            new("BitLinear 4 tokens", Wide(path) ? (choice.Avx512Vnni ? Native : choice.Vnni ? "Vector256+AvxVnni" : "Vector256 2 rows+Avx2") : choice.I8mm ? NativeI8mm : plain),
            // One 1.6-bit token goes to the native kernel with AVX-512 VNNI; the C# forms are 256-bit (AVX-512 runs them
            // too), with vpdpbusd where allowed.
            new("BitLinear 1.6-bit 1 token", Wide(path) ? (choice.Avx512Vnni ? Native : WithVnni("Vector256", choice.Vnni)) : plain),
            new("BitLinear 1.6-bit 4 tokens", Wide(path) ? WithVnni("Vector256", choice.Vnni) : plain),
            new("MatMulNBits int8", nbitsInt8),
            // A batch of 4-bit rows goes to the native kernel, which decodes each chunk of rows once for all tokens.
            new("MatMulNBits 4-bit batch", Wide(path) && choice.Avx512Vnni ? Native : choice.I8mm ? NativeI8mm : nbitsInt8),
            new("MatMulNBits float", path is KernelPath.Scalar or KernelPath.AdvSimd ? path.ToString() : "Vector128"),
            new("MatMulInteger", plain),
            new("MatMulInteger prepacked", Wide(path) ? (choice.Avx512Vnni ? Native : WithVnni("Vector256", choice.Vnni)) : choice.I8mm ? $"{plain} (batches: {NativeI8mm})" : plain),
            new("Int8RowLinear", plain),
        ];
    }

    /// <summary>
    /// What libedgekernels (native/kernels) offers this CPU and whether this process uses it: "libedgekernels: AVX-512 VNNI
    /// in use", "... AVX-512 VNNI not on this CPU", "libedgekernels: I8MM in use" on arm64, or why the library is not loaded.
    /// </summary>
    public static string NativeSummary(KernelChoice choice)
    {
        if (NativeKernels.LoadError is { } error)
        {
            return $"libedgekernels: not loaded ({error})";
        }

        if (RuntimeInformation.ProcessArchitecture == Architecture.Arm64)
        {
            string i8mm = !NativeKernels.I8mm ? "not on this CPU"
                : choice.I8mm ? "in use"
                : choice.Path == KernelPath.AdvSimd ? "on this CPU, turned off by the board profile"
                : $"on this CPU, off with the C# kernels at {choice.Path}";
            return $"libedgekernels: I8MM {i8mm}";
        }

        string state = !NativeKernels.Avx512Vnni ? "not on this CPU"
            : choice.Avx512Vnni ? "in use"
            : choice.Path is KernelPath.Vector256 or KernelPath.Vector512 ? "on this CPU, turned off by the board profile"
            : $"on this CPU, off with the C# kernels at {choice.Path}";
        return $"libedgekernels: AVX-512 VNNI {state}";
    }

    /// <summary>One line: "BitLinear 1 token=Vector256, MatMulNBits int8=Vector256 8 rows+AvxVnni, ...".</summary>
    public static string Summary(IReadOnlyList<KernelForm> forms) => string.Join(", ", forms.Select(f => $"{f.Kernel}={f.Form}"));

    // libedgekernels' 512-bit vpdpbusd kernels and arm64 USMMLA kernels (native/kernels), chosen at run time.
    private const string Native = "native Avx512Vnni";
    private const string NativeI8mm = "native I8mm";

    private static bool Wide(KernelPath path) => path is KernelPath.Vector256 or KernelPath.Vector512;

    private static string WithVnni(string form, bool vnni) => vnni ? form + "+AvxVnni" : form + "+Avx2";
}
