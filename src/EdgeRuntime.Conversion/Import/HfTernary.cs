using EdgeRuntime.Generation.Families.BitNet;

namespace EdgeRuntime.Conversion.Import;

/// <summary>
/// Hugging Face's ternary projections, turned into our <see cref="TernaryMatrix"/> (repacked in
/// <see cref="Kernels.Ternary.TernaryPacking"/>'s layout): the packed uint8 form of an offline-quantized checkpoint,
/// and the bf16 master weights of an online one.
/// </summary>
internal static class HfTernary
{
    /// <summary>
    /// transformers' <c>integrations/bitnet.py</c> pack_weights/unpack_weights: a uint8 tensor [out/4, in] whose byte
    /// [r, c] holds, in bits 2i..2i+1 (i = 0..3), W[i·(out/4) + r, c] + 1. Code 3 is never written; it is refused.
    /// </summary>
    public static TernaryMatrix Unpack(string name, ReadOnlySpan<byte> packed, int rows, int columns, float beta)
    {
        int quarter = rows / 4;
        var matrix = new TernaryBuilder(rows, columns);
        for (int r = 0; r < quarter; r++)
        {
            var source = packed.Slice(r * columns, columns);
            for (int c = 0; c < columns; c++)
            {
                int b = source[c];
                for (int i = 0; i < 4; i++)
                {
                    int code = (b >> (2 * i)) & 3;
                    if (code == 3)
                    {
                        throw new InvalidDataException($"{name}: packed byte [{r}, {c}] holds the code 3 in bits {2 * i}..{(2 * i) + 1} (weight [{(i * quarter) + r}, {c}]); ternary weights are coded 0, 1, 2 for -1, 0, +1, so the tensor is corrupt.");
                    }

                    matrix.Set((i * quarter) + r, c, code);
                }
            }
        }

        return matrix.Build(beta);
    }

    /// <summary>
    /// BitNet b1.58's absmean quantization of master weights [rows, columns], as transformers' WeightQuant (online
    /// mode) applies it on every forward pass: s = 1 / max(mean|W|, 1e-5), w = clamp(round(W·s), −1, 1), and the
    /// output is multiplied by β = 1/s. Rounding is to even, as torch.round.
    /// </summary>
    public static TernaryMatrix Quantize(ReadOnlySpan<float> master, int rows, int columns)
    {
        double sum = 0;
        foreach (float v in master)
        {
            sum += Math.Abs(v);
        }

        float mean = Math.Max((float)(sum / master.Length), 1e-5f);
        float scale = 1f / mean;
        var weights = new sbyte[master.Length];
        for (int i = 0; i < master.Length; i++)
        {
            weights[i] = (sbyte)Math.Clamp(MathF.Round(master[i] * scale, MidpointRounding.ToEven), -1f, 1f);
        }

        return TernaryMatrix.FromTernary(weights, rows, columns, 1f / scale);
    }
}
