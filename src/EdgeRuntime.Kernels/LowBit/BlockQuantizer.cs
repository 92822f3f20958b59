namespace EdgeRuntime.Kernels.LowBit;

/// <summary>
/// Per-block symmetric int8 quantization of one token for MatMulNBits' int8 mode: for each block of BlockSize values
/// s = max|x| / 127 and q = clamp(round(x · 127 / max|x|), −127, 127), rounding half to even. A block of zeros (or one
/// holding a non-finite value) gets s = 0 and q = 0. The tail past K is zero.
/// </summary>
public static class BlockQuantizer
{
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
}
