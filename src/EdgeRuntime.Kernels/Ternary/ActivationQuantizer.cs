using System.Runtime.Intrinsics;

namespace EdgeRuntime.Kernels.Ternary;

/// <summary>
/// BitNet b1.58's per-token activation quantization: s = 127 / max|x|, x_q = clamp(round(x·s), -128, 127), rounding
/// half to even. A token of zeros gets s = 0 and x_q = 0 (and BitLinear then outputs zeros). The quantized row is
/// padded with zeros to the packed weights' block size.
/// </summary>
public static class ActivationQuantizer
{
    /// <summary>Quantizes one token. <paramref name="quantized"/> has the padded length; the tail is zeroed.</summary>
    /// <returns>The scale s.</returns>
    public static float Quantize(ReadOnlySpan<float> x, Span<sbyte> quantized, KernelPath path)
    {
        float max = path == KernelPath.Scalar ? MaxAbsScalar(x) : MaxAbsVector(x);
        quantized[x.Length..].Clear();
        if (!(max > 0) || !float.IsFinite(max))
        {
            quantized.Clear();
            return 0;
        }

        float scale = 127f / max;
        int i = 0;
        if (path != KernelPath.Scalar)
        {
            var s = Vector128.Create(scale);
            var low = Vector128.Create(-128);
            var high = Vector128.Create(127);
            for (; i + 8 <= x.Length; i += 8)
            {
                var a = Vector128.Clamp(Vector128.ConvertToInt32(Vector128.Round(Vector128.Create(x.Slice(i, 4)) * s)), low, high);
                var b = Vector128.Clamp(Vector128.ConvertToInt32(Vector128.Round(Vector128.Create(x.Slice(i + 4, 4)) * s)), low, high);
                var shorts = Vector128.Narrow(a, b);
                Vector64.Narrow(shorts.GetLower(), shorts.GetUpper()).CopyTo(quantized.Slice(i, 8));
            }
        }

        for (; i < x.Length; i++)
        {
            quantized[i] = (sbyte)Math.Clamp((int)MathF.Round(x[i] * scale), -128, 127);
        }

        return scale;
    }

    private static float MaxAbsScalar(ReadOnlySpan<float> x)
    {
        float max = 0;
        foreach (float v in x)
        {
            max = MathF.Max(max, MathF.Abs(v));
        }

        return max;
    }

    private static float MaxAbsVector(ReadOnlySpan<float> x)
    {
        var max = Vector128<float>.Zero;
        int i = 0;
        for (; i + 4 <= x.Length; i += 4)
        {
            max = Vector128.Max(max, Vector128.Abs(Vector128.Create(x.Slice(i, 4))));
        }

        float result = MathF.Max(MathF.Max(max[0], max[1]), MathF.Max(max[2], max[3]));
        for (; i < x.Length; i++)
        {
            result = MathF.Max(result, MathF.Abs(x[i]));
        }

        return result;
    }
}
