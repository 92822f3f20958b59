namespace EdgeRuntime.Kernels.Ternary;

/// <summary>
/// BitLinear written as plainly as possible from unpacked ternary weights: the specification every optimised path
/// (and the ORT custom op) is tested against, bit for bit.
/// </summary>
public static class BitLinearReference
{
    public static float[] Compute(ReadOnlySpan<float> x, int m, int k, ReadOnlySpan<sbyte> weights, int n, float beta)
    {
        var y = new float[m * n];
        var quantized = new sbyte[k];
        for (int t = 0; t < m; t++)
        {
            var token = x.Slice(t * k, k);
            float max = 0;
            foreach (float v in token)
            {
                max = MathF.Max(max, MathF.Abs(v));
            }

            if (!(max > 0) || !float.IsFinite(max))
            {
                continue; // a zero token gives zeros
            }

            float scale = 127f / max;
            for (int i = 0; i < k; i++)
            {
                quantized[i] = (sbyte)Math.Clamp((int)MathF.Round(token[i] * scale), -128, 127);
            }

            for (int row = 0; row < n; row++)
            {
                int acc = 0;
                for (int i = 0; i < k; i++)
                {
                    acc += weights[(row * k) + i] * quantized[i];
                }

                y[(t * n) + row] = acc / scale * beta;
            }
        }

        return y;
    }
}
