namespace EdgeRuntime.Kernels.LowBit;

/// <summary>MatMulNBits weights: quantized from float (round to nearest) and packed in <see cref="NBitsShape"/>'s layout.</summary>
public sealed record NBitsWeights(NBitsShape Shape, byte[] B, float[] Scales, byte[]? ZeroPoints)
{
    /// <summary>
    /// Round-to-nearest quantization of W (float, row n = output n, [N, K]) per block. Asymmetric (with zero points):
    /// the block's range [min(0, w_min), max(0, w_max)] maps onto the 2^bits codes. Symmetric (no zero points, the
    /// default zero point 2^(bits-1)): scale = max|w| / 2^(bits-1), codes clamped to the range; with
    /// <paramref name="searchScale"/>, the scale of each block is instead the one among
    /// <see cref="ScaleCandidates"/> that gives the least squared error.
    /// </summary>
    public static NBitsWeights Quantize(ReadOnlySpan<float> w, NBitsShape shape, bool zeroPoints, bool searchScale = false)
    {
        shape.Validate();
        if (w.Length != (long)shape.N * shape.K)
        {
            throw new ArgumentException($"The weights have {w.Length} values; expected N x K = {shape.N}x{shape.K}.");
        }

        int levels = (1 << shape.Bits) - 1;
        var b = new byte[shape.N * shape.RowBytes];
        var scales = new float[shape.N * shape.KBlocks];
        byte[]? zps = zeroPoints ? new byte[shape.N * shape.ZeroPointRowBytes] : null;
        for (int n = 0; n < shape.N; n++)
        {
            var row = w.Slice(n * shape.K, shape.K);
            for (int block = 0; block < shape.KBlocks; block++)
            {
                int start = block * shape.BlockSize;
                var values = row[start..Math.Min(shape.K, start + shape.BlockSize)];
                float scale;
                int zp;
                if (zeroPoints)
                {
                    float min = 0, max = 0;
                    foreach (float v in values)
                    {
                        min = MathF.Min(min, v);
                        max = MathF.Max(max, v);
                    }

                    scale = (max - min) / levels;
                    zp = scale == 0 ? 0 : Math.Clamp((int)MathF.Round(-min / scale), 0, levels);
                    if (searchScale && scale > 0)
                    {
                        (scale, zp) = BestAsymmetric(values, min, max, levels);
                    }

                    int bit = block * shape.Bits;
                    zps![(n * shape.ZeroPointRowBytes) + (bit / 8)] |= (byte)(zp << (bit % 8));
                }
                else
                {
                    float max = 0;
                    foreach (float v in values)
                    {
                        max = MathF.Max(max, MathF.Abs(v));
                    }

                    zp = shape.DefaultZeroPoint;
                    scale = max / zp;
                    if (searchScale && max > 0)
                    {
                        scale = BestScale(values, max, zp, levels);
                    }
                }

                scales[(n * shape.KBlocks) + block] = scale;
                for (int i = 0; i < shape.BlockSize; i++)
                {
                    int code = start + i < shape.K && scale != 0 ? Math.Clamp((int)MathF.Round(values[i] / scale) + zp, 0, levels) : zp;
                    int perByte = shape.ValuesPerByte;
                    b[(n * shape.RowBytes) + (block * shape.BlobBytes) + (i / perByte)] |= (byte)(code << ((i % perByte) * shape.Bits));
                }
            }
        }

        return new NBitsWeights(shape, b, scales, zps);
    }

    /// <summary>
    /// How many scales a block tries when searching: max|w| / (zp − 1) times 1, 0.975, …, 0.6 (max|w| lands on the
    /// largest positive code at the first; the smaller ones clip the largest weights for a finer grid for the rest), and
    /// max|w| / zp (the largest negative code).
    /// </summary>
    public const int ScaleCandidates = 18;

    /// <summary>The symmetric scale among <see cref="ScaleCandidates"/> with the least squared error on the block.</summary>
    private static float BestScale(ReadOnlySpan<float> values, float max, int zp, int levels)
    {
        float best = max / zp;
        double bestError = Error(values, best, zp, levels);
        for (int step = 0; step < ScaleCandidates - 1; step++)
        {
            float scale = max / (zp - 1) * (1f - (0.025f * step));
            double error = Error(values, scale, zp, levels);
            if (error < bestError)
            {
                (best, bestError) = (scale, error);
            }
        }

        return best;
    }

    /// <summary>
    /// The asymmetric scale and zero point with the least squared error on the block: the range [min, max] · α among
    /// α = 1, 0.975, …, 0.6 (<see cref="ScaleCandidates"/> − 1 of them), then, with the zero point kept, the scale refit
    /// by least squares to the codes it gives (s = Σ w·(c − zp) / Σ (c − zp)²) while that lowers the error.
    /// </summary>
    private static (float Scale, int ZeroPoint) BestAsymmetric(ReadOnlySpan<float> values, float min, float max, int levels)
    {
        (float Scale, int ZeroPoint) best = default;
        double bestError = double.MaxValue;
        for (int step = 0; step < ScaleCandidates - 1; step++)
        {
            float factor = 1f - (0.025f * step);
            float scale = ((max - min) * factor) / levels;
            int zp = Math.Clamp((int)MathF.Round(-min * factor / scale), 0, levels);
            double error = Error(values, scale, zp, levels);
            if (error < bestError)
            {
                (best, bestError) = ((scale, zp), error);
            }
        }

        for (int round = 0; round < 4; round++)
        {
            double numerator = 0, denominator = 0;
            foreach (float v in values)
            {
                int c = Math.Clamp((int)MathF.Round(v / best.Scale) + best.ZeroPoint, 0, levels) - best.ZeroPoint;
                numerator += v * (double)c;
                denominator += (double)c * c;
            }

            float refit = denominator > 0 ? (float)(numerator / denominator) : best.Scale;
            double error = refit > 0 ? Error(values, refit, best.ZeroPoint, levels) : double.MaxValue;
            if (!(error < bestError))
            {
                break;
            }

            (best, bestError) = ((refit, best.ZeroPoint), error);
        }

        return best;
    }

    /// <summary>Σ (w − ŵ)² over the block for one scale and zero point.</summary>
    private static double Error(ReadOnlySpan<float> values, float scale, int zp, int levels)
    {
        double sum = 0;
        foreach (float v in values)
        {
            float q = (Math.Clamp((int)MathF.Round(v / scale) + zp, 0, levels) - zp) * scale;
            sum += (v - q) * (double)(v - q);
        }

        return sum;
    }

    /// <summary>The float weights these codes stand for, [N, K]: (code − zp) · scale.</summary>
    public float[] Dequantize()
    {
        var w = new float[Shape.N * Shape.K];
        for (int n = 0; n < Shape.N; n++)
        {
            var row = B.AsSpan(n * Shape.RowBytes, Shape.RowBytes);
            var zpRow = ZeroPoints is null ? default : ZeroPoints.AsSpan(n * Shape.ZeroPointRowBytes, Shape.ZeroPointRowBytes);
            for (int k = 0; k < Shape.K; k++)
            {
                int block = k / Shape.BlockSize;
                w[(n * Shape.K) + k] = (Shape.Code(row, k) - Shape.ZeroPoint(zpRow, block)) * Scales[(n * Shape.KBlocks) + block];
            }
        }

        return w;
    }
}
