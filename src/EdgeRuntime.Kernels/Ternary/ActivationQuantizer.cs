using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeRuntime.Kernels.Ternary;

/// <summary>
/// BitNet b1.58's per-token activation quantization: s = 127 / max|x|, x_q = clamp(round(x·s), -128, 127), rounding
/// half to even. A token of zeros gets s = 0 and x_q = 0 (and BitLinear then outputs zeros). The quantized row is
/// padded with zeros to the packed weights' block size.
/// </summary>
public static unsafe class ActivationQuantizer
{
    /// <summary>Quantizes one token. <paramref name="quantized"/> has the padded length; the tail is zeroed.</summary>
    /// <returns>The scale s.</returns>
    public static float Quantize(ReadOnlySpan<float> x, Span<sbyte> quantized, KernelPath path) => Quantize(x, quantized, path, out _);

    /// <summary>
    /// As <see cref="Quantize(ReadOnlySpan{float}, Span{sbyte}, KernelPath)"/>, also giving Σ x_q, which x64's kernels
    /// subtract for the weights' code offset; summed in the same pass, so the token is read once.
    /// </summary>
    public static float Quantize(ReadOnlySpan<float> x, Span<sbyte> quantized, KernelPath path, out int sum)
    {
        // The 256-bit form only where the chosen path is 256 bits or wider, so a board profile that narrows the kernels
        // to Vector128 narrows this step too.
        if (path is KernelPath.Vector256 or KernelPath.Vector512 && Avx2.IsSupported && x.Length >= 32)
        {
            return QuantizeAvx2(x, quantized, out sum);
        }

        float max = path == KernelPath.Scalar ? MaxAbsScalar(x) : MaxAbsVector(x);
        quantized[x.Length..].Clear();
        sum = 0;
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
            var sums = Vector128<int>.Zero;
            for (; i + 8 <= x.Length; i += 8)
            {
                var a = Vector128.Clamp(Vector128.ConvertToInt32(Vector128.Round(Vector128.Create(x.Slice(i, 4)) * s)), low, high);
                var b = Vector128.Clamp(Vector128.ConvertToInt32(Vector128.Round(Vector128.Create(x.Slice(i + 4, 4)) * s)), low, high);
                sums += a + b;
                var shorts = Vector128.Narrow(a, b);
                Vector64.Narrow(shorts.GetLower(), shorts.GetUpper()).CopyTo(quantized.Slice(i, 8));
            }

            sum = Vector128.Sum(sums);
        }

        sum += QuantizeTail(x, quantized, i, scale);
        return scale;
    }

    // x64: eight floats per step, and cvtps2dq's rounding (to nearest, ties to even, the default MXCSR mode) is
    // MathF.Round's. This runs on one thread before the row tasks start, so at K = 6912 the 128-bit loop's 12 µs was
    // a tenth of a decode layer.
    private static float QuantizeAvx2(ReadOnlySpan<float> x, Span<sbyte> quantized, out int sum)
    {
        int length = x.Length;
        quantized[length..].Clear();
        sum = 0;
        fixed (float* source = x)
        fixed (sbyte* target = quantized)
        {
            // max|x|; maxps drops a NaN operand, so NaNs are tracked apart (a NaN token quantizes to zeros, as in the
            // scalar definition).
            var absMask = Vector256.Create(0x7FFF_FFFF).AsSingle();
            Vector256<float> max0 = default, max1 = default, unordered = default;
            int i = 0;
            for (; i + 16 <= length; i += 16)
            {
                var a = Avx.LoadVector256(source + i);
                var b = Avx.LoadVector256(source + i + 8);
                max0 = Avx.Max(max0, Avx.And(a, absMask));
                max1 = Avx.Max(max1, Avx.And(b, absMask));
                unordered = Avx.Or(unordered, Avx.CompareUnordered(a, b));
            }

            var max8 = Avx.Max(max0, max1);
            var max4 = Sse.Max(max8.GetLower(), max8.GetUpper());
            float max = MathF.Max(MathF.Max(max4[0], max4[1]), MathF.Max(max4[2], max4[3]));
            for (; i < length; i++)
            {
                max = MathF.Max(max, MathF.Abs(source[i]));
            }

            if (Avx.MoveMask(unordered) != 0 || !(max > 0) || !float.IsFinite(max))
            {
                quantized.Clear();
                return 0;
            }

            float scale = 127f / max;
            var s = Vector256.Create(scale);
            var sums = Vector256<int>.Zero;

            // The packs interleave 128-bit lanes: after them the 4-byte groups are a0 b0 c0 d0 a1 b1 c1 d1 (a0 = a's
            // first four values); this permutation puts them back in order.
            var order = Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7);
            i = 0;
            for (; i + 32 <= length; i += 32)
            {
                // |x·s| <= 127 (max is finite and x's largest magnitude), so the saturating packs never clamp.
                var a = Avx.ConvertToVector256Int32(Avx.Multiply(Avx.LoadVector256(source + i), s));
                var b = Avx.ConvertToVector256Int32(Avx.Multiply(Avx.LoadVector256(source + i + 8), s));
                var c = Avx.ConvertToVector256Int32(Avx.Multiply(Avx.LoadVector256(source + i + 16), s));
                var d = Avx.ConvertToVector256Int32(Avx.Multiply(Avx.LoadVector256(source + i + 24), s));
                sums += (a + b) + (c + d);
                var bytes = Avx2.PackSignedSaturate(Avx2.PackSignedSaturate(a, b), Avx2.PackSignedSaturate(c, d));
                Avx.Store(target + i, Avx2.PermuteVar8x32(bytes.AsInt32(), order).AsSByte());
            }

            sum = Vector256.Sum(sums) + QuantizeTail(x, quantized, i, scale);
            return scale;
        }
    }

    // The definition, one value at a time, from `start` on (what the vector loops leave over); returns Σ x_q there.
    private static int QuantizeTail(ReadOnlySpan<float> x, Span<sbyte> quantized, int start, float scale)
    {
        int sum = 0;
        for (int i = start; i < x.Length; i++)
        {
            int q = Math.Clamp((int)MathF.Round(x[i] * scale), -128, 127);
            quantized[i] = (sbyte)q;
            sum += q;
        }

        return sum;
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
