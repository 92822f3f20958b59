using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using EdgeRuntime.Kernels.Native;

namespace EdgeRuntime.Kernels;

/// <summary>An implementation of a kernel: the scalar reference (the specification) or a SIMD path.</summary>
public enum KernelPath
{
    /// <summary>Plain C#: the definition the others are tested against.</summary>
    Scalar,

    /// <summary>x64 SSSE3 on 128-bit vectors.</summary>
    Vector128,

    /// <summary>x64 AVX2 on 256-bit vectors.</summary>
    Vector256,

    /// <summary>x64 AVX-512BW on 512-bit vectors (Zen 4, Ice Lake and later servers).</summary>
    Vector512,

    /// <summary>arm64 NEON; with the dot-product instructions (SDOT) when the CPU has them.</summary>
    AdvSimd,
}

/// <summary>A board profile's limits on the kernels: the widest path, and whether the CPU's dot-product extensions
/// (AVX-VNNI and AVX-512 VNNI on x64, SDOT on arm64) and arm64's matrix-multiply extension (I8MM) may be used. The
/// defaults leave the choice to the CPU.</summary>
public sealed record KernelLimits(KernelPath? MaxPath = null, bool Vnni = true, bool DotProduct = true, bool I8mm = true);

/// <summary>
/// What the kernels run in this process: a path (the C# vector width), the extensions used inside it, and whether the
/// native kernels (libedgekernels: AVX-512 VNNI on x64, I8MM on arm64) take the batched int8, 4-bit and ternary
/// products.
/// </summary>
public readonly record struct KernelChoice(KernelPath Path, bool Vnni, bool DotProduct, bool Avx512Vnni = false, bool I8mm = false);

/// <summary>
/// Which paths this CPU can run, and the one used by default: the widest, chosen once at start from the CPU's
/// features, then possibly narrowed once by the board profile (<see cref="Apply"/>) before any session runs.
/// </summary>
public static class KernelPaths
{
    /// <summary>The widest path this CPU runs, whatever a profile says.</summary>
    public static KernelPath Detected { get; } = Detect();

    public static IReadOnlyList<KernelPath> Supported { get; } = [.. Enum.GetValues<KernelPath>().Where(IsSupported)];

    private static KernelChoice s_choice = Choose(new KernelLimits());

    /// <summary>The path the ops run.</summary>
    public static KernelPath Best => s_choice.Path;

    /// <summary>Whether the 256-bit forms use AVX-VNNI's vpdpbusd (the CPU has it and the profile allows it).</summary>
    public static bool Vnni => s_choice.Vnni;

    /// <summary>
    /// Whether the native 512-bit VNNI kernels run: the CPU and OS have AVX-512 VNNI, the profile allows both VNNI and
    /// 512-bit vectors, and the C# kernels run 256 bits or wider (<see cref="Best"/> at Vector128 or Scalar, as under
    /// DOTNET_EnableHWIntrinsic=0, leaves them out too). A Native AOT binary built for x86-64-v3 runs its C# at
    /// Vector256 and these at 512 bits. .NET's own AVX-512 switches do not reach native code; the profile does.
    /// </summary>
    public static bool Avx512Vnni => s_choice.Avx512Vnni;

    /// <summary>Whether the arm64 forms use SDOT (the CPU has it and the profile allows it).</summary>
    public static bool DotProduct => s_choice.DotProduct;

    /// <summary>
    /// Whether the native I8MM kernels take arm64 batches (two tokens or more): the CPU and OS report I8MM (HWCAP2), the
    /// path is AdvSimd and the profile allows I8MM. A single token stays with the C# SDOT forms: USMMLA multiplies
    /// token pairs, so one token would fill half of each product with a copy.
    /// </summary>
    public static bool I8mm => s_choice.I8mm;

    /// <summary>Whether an op on <paramref name="path"/> may call the native AVX-512 VNNI kernels in this process.</summary>
    public static bool NativeAvx512Vnni(KernelPath path) => path is KernelPath.Vector256 or KernelPath.Vector512 && Avx512Vnni;

    /// <summary>Whether an op on <paramref name="path"/> may call the native I8MM batch kernels in this process.</summary>
    public static bool NativeI8mm(KernelPath path) => path == KernelPath.AdvSimd && I8mm;

    public static KernelChoice Current => s_choice;

    public static bool IsSupported(KernelPath path) => path switch
    {
        KernelPath.Scalar => true,
        KernelPath.Vector128 => Ssse3.IsSupported,
        KernelPath.Vector256 => Avx2.IsSupported,
        KernelPath.Vector512 => Avx512BW.IsSupported && Avx2.IsSupported,
        KernelPath.AdvSimd => System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported,
        _ => false,
    };

    /// <summary>
    /// The choice under <paramref name="limits"/>: the narrower of the CPU's widest path and the profile's maximum, so a
    /// profile can narrow the choice but never widen it past the CPU. A maximum for the other architecture (AdvSimd on
    /// x64, an x64 path on arm64) is an error rather than a silent scalar fallback.
    /// </summary>
    public static KernelChoice Choose(KernelLimits limits)
    {
        var path = Detected;
        if (limits.MaxPath is { } max && max != KernelPath.Scalar)
        {
            bool armMax = max == KernelPath.AdvSimd;
            bool armCpu = System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported;
            if (armMax != armCpu)
            {
                throw new ArgumentException($"kernels.maxPath is {max}, a path for {(armMax ? "arm64" : "x64")}; this CPU runs {string.Join(", ", Supported)}.");
            }
        }

        if (limits.MaxPath is { } ceiling && Width(ceiling) < Width(path))
        {
            path = ceiling;
        }

        bool vnni = limits.Vnni && AvxVnni.IsSupported && path is KernelPath.Vector256 or KernelPath.Vector512;
        bool dot = limits.DotProduct && Dp.IsSupported && path == KernelPath.AdvSimd;
        // The 512-bit kernels are native: the C# path need only be 256 bits or wider (Native AOT's x86-64-v3 build runs
        // Vector256), while the profile's ceiling must allow 512 bits.
        bool avx512Vnni = limits.Vnni && NativeKernels.Avx512Vnni && path is KernelPath.Vector256 or KernelPath.Vector512
            && (limits.MaxPath is null || Width(limits.MaxPath.Value) >= Width(KernelPath.Vector512));
        bool i8mm = limits.I8mm && NativeKernels.I8mm && path == KernelPath.AdvSimd;
        return new KernelChoice(path, vnni, dot, avx512Vnni, i8mm);
    }

    /// <summary>Makes <paramref name="choice"/> the process's (edged does this once, before it creates a session).</summary>
    public static void Apply(KernelChoice choice) => s_choice = choice;

    /// <summary>"AdvSimd+Dp", "Vector512", ...: what a path uses in this process, for logs and benchmarks.</summary>
    public static string Describe(KernelPath path) => Describe(path, DotProduct);

    /// <summary>A path's name, with "+Dp" on arm64 when SDOT is used.</summary>
    public static string Describe(KernelPath path, bool dotProduct) => path == KernelPath.AdvSimd && dotProduct ? "AdvSimd+Dp" : path.ToString();

    private static int Width(KernelPath path) => path switch
    {
        KernelPath.Scalar => 0,
        KernelPath.Vector128 or KernelPath.AdvSimd => 1,
        KernelPath.Vector256 => 2,
        _ => 3,
    };

    private static KernelPath Detect()
    {
        if (System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported)
        {
            return KernelPath.AdvSimd;
        }

        if (Avx512BW.IsSupported && Avx2.IsSupported)
        {
            return KernelPath.Vector512;
        }

        if (Avx2.IsSupported)
        {
            return KernelPath.Vector256;
        }

        return Ssse3.IsSupported ? KernelPath.Vector128 : KernelPath.Scalar;
    }
}
