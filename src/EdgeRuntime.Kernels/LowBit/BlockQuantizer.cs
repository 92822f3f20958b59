using System.Runtime.Intrinsics;

namespace EdgeRuntime.Kernels.LowBit;

/// <summary>
/// Per-block symmetric int8 quantization of one token for MatMulNBits' int8 mode: for each block of BlockSize values
/// s = max|x| / 127 and q = clamp(round(x · 127 / max|x|), −127, 127), rounding half to even. A block of zeros (or one
/// holding a non-finite value) gets s = 0 and q = 0. The tail past K is zero.
/// </summary>
public static class BlockQuantizer
{
    /// <summary>The definition, one value at a time (the reference and the scalar path use it).</summary>
    public static void Quantize(ReadOnlySpan<float> x, int blockSize, Span<sbyte> q, Span<float> scales, Span<int> sums)
    {
        int blocks = scales.Length;
        for (int block = 0; block < blocks; block++)
        {
            int start = block * blockSize;
            int end = Math.Min(x.Length, start + blockSize);
            var target = q.Slice(start, blockSize);
            float max = 0;
            for (int i = start; i < end; i++)
            {
                max = MathF.Max(max, MathF.Abs(x[i]));
            }

            if (!(max > 0) || !float.IsFinite(max))
            {
                target.Clear();
                scales[block] = 0;
                sums[block] = 0;
                continue;
            }

            float inverse = 127f / max;
            int sum = 0;
            for (int i = start; i < start + blockSize; i++)
            {
                int v = i < end ? Math.Clamp((int)MathF.Round(x[i] * inverse), -127, 127) : 0;
                target[i - start] = (sbyte)v;
                sum += v;
            }

            scales[block] = max / 127f;
            sums[block] = sum;
        }
    }

    /// <summary>
    /// <see cref="Quantize"/> eight values at a time on 128-bit vectors (SSE/AVX on x64, NEON on arm64), bit-identical
    /// to it: the same float product, the same round-half-to-even, the same clamp. It runs once per token before every MatMulNBits, on one thread while the
    /// row tasks wait, so at K = 6912 the scalar form cost a third of a decode-sized product.
    /// </summary>
    public static void QuantizeVector(ReadOnlySpan<float> x, int blockSize, Span<sbyte> q, Span<float> scales, Span<int> sums)
    {
        int blocks = scales.Length;
        for (int block = 0; block < blocks; block++)
        {
            int start = block * blockSize;
            int end = Math.Min(x.Length, start + blockSize);
            var values = x[start..end];
            var target = q.Slice(start, blockSize);
            float max = MaxAbsIfFinite(values);
            if (!(max > 0))
            {
                target.Clear();
                scales[block] = 0;
                sums[block] = 0;
                continue;
            }

            float inverse = 127f / max;
            var factor = Vector128.Create(inverse);
            var sum = Vector128<int>.Zero;
            int i = 0;
            for (; i + 8 <= values.Length; i += 8)
            {
                var a = Scaled(values.Slice(i, 4), factor);
                var b = Scaled(values.Slice(i + 4, 4), factor);
                sum += a + b;
                var shorts = Vector128.Narrow(a, b);
                Vector128.Narrow(shorts, shorts).GetLower().CopyTo(target.Slice(i, 8));
            }

            int total = Vector128.Sum(sum);
            for (; i < values.Length; i++)
            {
                int v = Math.Clamp((int)MathF.Round(values[i] * inverse), -127, 127);
                target[i] = (sbyte)v;
                total += v;
            }

            target[values.Length..].Clear();
            scales[block] = max / 127f;
            sums[block] = total;
        }
    }

    private static Vector128<int> Scaled(ReadOnlySpan<float> four, Vector128<float> factor) =>
        Vector128.Clamp(Vector128.ConvertToInt32(Vector128.Round(Vector128.Create(four) * factor)), Vector128.Create(-127), Vector128.Create(127));

    // max|x| over the block, or NaN when any value is infinite or NaN (x·0 is 0 exactly when x is finite), so the
    // caller's one test, max > 0, sends such blocks to zero as the definition does.
    private static float MaxAbsIfFinite(ReadOnlySpan<float> values)
    {
        var max = Vector128<float>.Zero;
        var finite = Vector128<float>.AllBitsSet;
        int i = 0;
        for (; i + 4 <= values.Length; i += 4)
        {
            var v = Vector128.Create(values.Slice(i, 4));
            max = Vector128.MaxNative(max, Vector128.Abs(v));
            finite &= Vector128.Equals(v * Vector128<float>.Zero, Vector128<float>.Zero);
        }

        float result = MathF.Max(MathF.Max(max[0], max[1]), MathF.Max(max[2], max[3]));
        bool allFinite = finite.AsInt32() == Vector128<int>.AllBitsSet; // compared as integers: all-ones is a NaN as a float
        for (; i < values.Length; i++)
        {
            result = MathF.Max(result, MathF.Abs(values[i]));
            allFinite &= float.IsFinite(values[i]);
        }

        return allFinite ? result : float.NaN;
    }
}
