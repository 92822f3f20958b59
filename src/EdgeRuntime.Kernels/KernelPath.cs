using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

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

/// <summary>Which paths this CPU can run, and the one used by default (the widest), chosen once at start.</summary>
public static class KernelPaths
{
    public static KernelPath Best { get; } = Detect();

    public static IReadOnlyList<KernelPath> Supported { get; } = [.. Enum.GetValues<KernelPath>().Where(IsSupported)];

    public static bool IsSupported(KernelPath path) => path switch
    {
        KernelPath.Scalar => true,
        KernelPath.Vector128 => Ssse3.IsSupported,
        KernelPath.Vector256 => Avx2.IsSupported,
        KernelPath.Vector512 => Avx512BW.IsSupported && Avx2.IsSupported,
        KernelPath.AdvSimd => System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported,
        _ => false,
    };

    /// <summary>"AdvSimd+Dp", "Vector512", ...: what the default path uses, for logs and benchmarks.</summary>
    public static string Describe(KernelPath path) => path switch
    {
        KernelPath.AdvSimd => Dp.IsSupported ? "AdvSimd+Dp" : "AdvSimd",
        _ => path.ToString(),
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
