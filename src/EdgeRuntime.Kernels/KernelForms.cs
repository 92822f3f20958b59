using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using EdgeRuntime.Kernels.Int8;
using EdgeRuntime.Kernels.LowBit;

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
    /// <summary>The forms along the default path, fixed at start.</summary>
    public static IReadOnlyList<KernelForm> Current { get; } = Describe(KernelPaths.Best);

    public static IReadOnlyList<KernelForm> Describe(KernelPath path) =>
    [
        new("BitLinear 1 token", Plain(path)),
        new("BitLinear 4 tokens", Wide(path) ? WithVnni("Vector256", AvxVnni.IsSupported) : Plain(path)),
        new("MatMulNBits int8", Wide(path) ? WithVnni("Vector256 8 rows", NBitsEightRows.UsesVnni) : Plain(path)),
        new("MatMulNBits float", path is KernelPath.Scalar or KernelPath.AdvSimd ? path.ToString() : "Vector128"),
        new("MatMulInteger", Plain(path)),
        new("MatMulInteger prepacked", Wide(path) ? WithVnni("Vector256", PackedInt8MatMul.UsesVnni(path)) : Plain(path)),
        new("Int8RowLinear", Plain(path)),
    ];

    /// <summary>One line: "BitLinear 1 token=Vector256, MatMulNBits int8=Vector256 8 rows+AvxVnni, ...".</summary>
    public static string Summary(IReadOnlyList<KernelForm> forms) => string.Join(", ", forms.Select(f => $"{f.Kernel}={f.Form}"));

    private static bool Wide(KernelPath path) => path is KernelPath.Vector256 or KernelPath.Vector512;

    private static string WithVnni(string form, bool vnni) => vnni ? form + "+AvxVnni" : form + "+Avx2";

    private static string Plain(KernelPath path) => path == KernelPath.AdvSimd && Dp.IsSupported ? "AdvSimd+Dp" : path.ToString();
}
