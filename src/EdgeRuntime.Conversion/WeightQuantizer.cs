using EdgeRuntime.Kernels.LowBit;
using EdgeRuntime.Kernels.Ternary;

namespace EdgeRuntime.Conversion;

/// <summary>Quantizes one MatMul's weights W [K, N] (ONNX layout: y = x·W) for each target and measures the error.</summary>
public static class WeightQuantizer
{
    /// <summary>
    /// BitNet b1.58's absmean ternarization: γ = mean|W|, w_t = clamp(round(W/γ), −1, 1), and β = γ is BitLinear's
    /// per-tensor scale. Returns the ternary weights as [N, K] (row n = output n) and what they stand for (γ·w_t, [K, N]).
    /// </summary>
    public static (sbyte[] Ternary, float Beta, float[] Dequantized) Ternarize(ReadOnlySpan<float> w, int k, int n)
    {
        double sum = 0;
        foreach (float v in w)
        {
            sum += Math.Abs(v);
        }

        float gamma = (float)(sum / Math.Max(1, w.Length));
        if (!(gamma > 0))
        {
            gamma = 1e-8f;
        }

        var ternary = new sbyte[n * k];
        var dequantized = new float[k * n];
        for (int row = 0; row < k; row++)
        {
            for (int col = 0; col < n; col++)
            {
                int t = Math.Clamp((int)MathF.Round(w[(row * n) + col] / gamma), -1, 1);
                ternary[(col * k) + row] = (sbyte)t;
                dequantized[(row * n) + col] = t * gamma;
            }
        }

        return (ternary, gamma, dequantized);
    }

    /// <summary>INT4 round-to-nearest per block along K, in MatMulNBits' layout ([N, K] rows).</summary>
    public static (NBitsWeights Weights, float[] Dequantized) Int4(ReadOnlySpan<float> w, int k, int n, int blockSize, bool zeroPoints)
    {
        var rows = Transpose(w, k, n);
        var weights = NBitsWeights.Quantize(rows, new NBitsShape(n, k, 4, blockSize), zeroPoints);
        return (weights, Transpose(weights.Dequantize(), n, k));
    }

    /// <summary>Signal-to-quantization-noise ratio in dB: 10·log10(Σw² / Σ(w − ŵ)²); +∞ when exact.</summary>
    public static double SqnrDb(ReadOnlySpan<float> original, ReadOnlySpan<float> quantized) => Generation.Families.Sqnr.Decibels(original, quantized);

    private static float[] Transpose(ReadOnlySpan<float> m, int rows, int cols)
    {
        var t = new float[m.Length];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < cols; c++)
            {
                t[(c * rows) + r] = m[(r * cols) + c];
            }
        }

        return t;
    }
}
