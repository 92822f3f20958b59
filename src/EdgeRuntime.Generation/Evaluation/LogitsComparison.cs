using EdgeRuntime.Generation.Decoding;
using EdgeRuntime.Generation.Folder;

namespace EdgeRuntime.Generation.Evaluation;

/// <summary>
/// How close one model folder's logits come to another's (a quantized model against its float original): both run the
/// same tokens one at a time, and the SQNR is taken over every position's logits together.
/// </summary>
/// <param name="SqnrDb">10·log10(Σ reference² / Σ (reference − candidate)²) over all positions' logits.</param>
/// <param name="Positions">How many positions were compared.</param>
/// <param name="SameArgMax">At how many of them both models' most likely token was the same.</param>
public sealed record LogitsComparison(double SqnrDb, int Positions, int SameArgMax)
{
    /// <summary>
    /// Runs <paramref name="reference"/> greedily from its BOS token (token 0 without one) for <paramref name="positions"/>
    /// positions, then <paramref name="candidate"/> on the same tokens; both must share the vocabulary.
    /// </summary>
    public static LogitsComparison Run(string reference, string candidate, int positions)
    {
        var options = new DecoderOptions { Slots = 1, VerifyWeights = false };
        using var first = DecoderModel.Load(LanguageModelFolder.Open(reference), options);
        using var second = DecoderModel.Load(LanguageModelFolder.Open(candidate), options);
        if (first.Config.VocabSize != second.Config.VocabSize)
        {
            throw new ArgumentException($"{reference} has a vocabulary of {first.Config.VocabSize}, {candidate} of {second.Config.VocabSize}: their logits do not compare.");
        }

        positions = Math.Clamp(positions, 1, Math.Min(first.Capacity, second.Capacity));
        double signal = 0, noise = 0;
        int same = 0;
        long token = first.Config.BosTokenId ?? 0;
        for (int p = 0; p < positions; p++)
        {
            var want = first.Step([token], 1, 1, [p + 1], 0);
            var got = second.Step([token], 1, 1, [p + 1], 0);
            for (int v = 0; v < want.Length; v++)
            {
                signal += (double)want[v] * want[v];
                double d = want[v] - got[v];
                noise += d * d;
            }

            int next = ArgMax(want);
            same += next == ArgMax(got) ? 1 : 0;
            token = next;
        }

        return new LogitsComparison(noise == 0 ? double.PositiveInfinity : 10 * Math.Log10(signal / noise), positions, same);
    }

    private static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
        {
            if (values[i] > values[best])
            {
                best = i;
            }
        }

        return best;
    }
}
