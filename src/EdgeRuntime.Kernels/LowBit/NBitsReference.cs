namespace EdgeRuntime.Kernels.LowBit;

/// <summary>
/// MatMulNBits written out plainly: the specification the SIMD paths are tested against.
/// Float: y[t,n] = Σ_b scale[n,b] · Σ_{k in b} (code − zp)·x[t,k].
/// Int8:  y[t,n] = Σ_b (Σ_{k in b} code·q[t,k] − zp·Σ_{k in b} q[t,k]) · (s[t,b] · scale[n,b]), blocks in order.
/// Both then add bias[n] when given.
/// </summary>
public static class NBitsReference
{
    public static float[] Compute(NBitsShape shape, NBitsAccuracy accuracy, ReadOnlySpan<float> x, int m, ReadOnlySpan<byte> b, ReadOnlySpan<float> scales, ReadOnlySpan<byte> zeroPoints, ReadOnlySpan<float> bias)
    {
        int k = shape.K;
        var y = new float[m * shape.N];
        var q = new sbyte[shape.PaddedK];
        var blockScales = new float[shape.KBlocks];
        var blockSums = new int[shape.KBlocks];
        for (int t = 0; t < m; t++)
        {
            var token = x.Slice(t * k, k);
            if (accuracy == NBitsAccuracy.Int8)
            {
                BlockQuantizer.Quantize(token, shape.BlockSize, q, blockScales, blockSums);
            }

            for (int n = 0; n < shape.N; n++)
            {
                var row = b.Slice(n * shape.RowBytes, shape.RowBytes);
                var zpRow = zeroPoints.IsEmpty ? default : zeroPoints.Slice(n * shape.ZeroPointRowBytes, shape.ZeroPointRowBytes);
                float sum = 0;
                for (int block = 0; block < shape.KBlocks; block++)
                {
                    int zp = shape.ZeroPoint(zpRow, block);
                    float scale = scales[(n * shape.KBlocks) + block];
                    int start = block * shape.BlockSize;
                    if (accuracy == NBitsAccuracy.Int8)
                    {
                        int dot = 0;
                        for (int i = start; i < start + shape.BlockSize; i++)
                        {
                            dot += shape.Code(row, i) * q[i];
                        }

                        sum += (dot - (zp * blockSums[block])) * (blockScales[block] * scale);
                    }
                    else
                    {
                        float blockSum = 0;
                        for (int i = start; i < Math.Min(k, start + shape.BlockSize); i++)
                        {
                            blockSum += (shape.Code(row, i) - zp) * token[i];
                        }

                        sum += blockSum * scale;
                    }
                }

                y[(t * shape.N) + n] = bias.IsEmpty ? sum : sum + bias[n];
            }
        }

        return y;
    }
}
