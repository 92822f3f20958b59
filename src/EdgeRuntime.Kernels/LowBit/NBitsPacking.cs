namespace EdgeRuntime.Kernels.LowBit;

/// <summary>MatMulNBits weights: quantized from float (round to nearest) and packed in <see cref="NBitsShape"/>'s layout.</summary>
public sealed record NBitsWeights(NBitsShape Shape, byte[] B, float[] Scales, byte[]? ZeroPoints)
{
    /// <summary>
    /// Round-to-nearest quantization of W (float, row n = output n, [N, K]) per block. Asymmetric (with zero points):
    /// the block's range [min(0, w_min), max(0, w_max)] maps onto the 2^bits codes. Symmetric (no zero points, the
    /// default zero point 2^(bits-1)): scale = max|w| / 2^(bits-1), codes clamped to the range.
    /// </summary>
    public static NBitsWeights Quantize(ReadOnlySpan<float> w, NBitsShape shape, bool zeroPoints)
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
