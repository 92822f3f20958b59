using System.Numerics.Tensors;

namespace EdgeRuntime.Generation.Sampling;

/// <summary>
/// Picks the next token from logits: repetition penalty over the session's tokens, then greedy, or temperature →
/// top-k → softmax → top-p → min-p → a draw from the session's own seeded generator. One per session (it holds the
/// generator's state, so a session's text depends only on its seed, not on other sessions).
/// </summary>
public sealed class Sampler(SamplingSettings settings)
{
    private readonly Xoshiro256 _random = new(settings.Seed);
    private float[] _scratch = [];
    private int[] _candidates = [];

    public SamplingSettings Settings { get; } = settings;

    /// <summary>
    /// The next token. <paramref name="logits"/> is modified (penalty, temperature); <paramref name="history"/> is every
    /// token the session holds (prompt and generated), for the repetition penalty.
    /// </summary>
    public int Next(Span<float> logits, IReadOnlySet<int>? history)
    {
        if (Settings.RepetitionPenalty != 1 && history is not null)
        {
            // CTRL's rule as Hugging Face applies it: a positive logit is divided, a negative one multiplied, so a
            // seen token always becomes less likely.
            foreach (int token in history)
            {
                if ((uint)token < (uint)logits.Length)
                {
                    float value = logits[token];
                    logits[token] = value > 0 ? value / Settings.RepetitionPenalty : value * Settings.RepetitionPenalty;
                }
            }
        }

        if (Settings.IsGreedy)
        {
            return TensorPrimitives.IndexOfMax(logits);
        }

        TensorPrimitives.Multiply(logits, 1 / Settings.Temperature, logits);
        int count = Candidates(logits);
        var ids = _candidates.AsSpan(0, count);
        var probabilities = _scratch.AsSpan(0, count);
        return ids[Draw(probabilities)];
    }

    /// <summary>
    /// Leaves in <see cref="_candidates"/> the tokens that survive top-k, top-p and min-p, most likely first, with their
    /// probabilities in <see cref="_scratch"/>; returns how many.
    /// </summary>
    private int Candidates(ReadOnlySpan<float> logits)
    {
        float max = TensorPrimitives.Max(logits);
        double total = 0;
        foreach (float logit in logits)
        {
            total += Math.Exp(logit - max);
        }

        bool filtered = Settings.TopK > 0 || Settings.TopP < 1 || Settings.MinP > 0;
        if (!filtered)
        {
            // Plain temperature sampling: the whole distribution, no order needed.
            return Gather(logits, max, total, 0, out _);
        }

        // The surviving tokens are always the most likely ones, so only tokens above a probability floor need sorting.
        // A floor is low enough once the tokens above it surely hold the answer: top-k of them (top-k is exact, and
        // top-p and min-p then work inside it), or topP of the mass (the nucleus is a prefix of the sorted order), or
        // the min-p threshold (the top token's probability is 1/total). Floors fall until one is; 0 sorts everything.
        double top = 1 / total;
        int count = 0;
        foreach (double floor in (ReadOnlySpan<double>)[1e-3, 1e-6, 1e-9, 0])
        {
            count = Gather(logits, max, total, floor, out double mass);
            bool enough = floor == 0
                || (Settings.TopK > 0 ? count >= Settings.TopK
                    : Settings.TopP < 1 ? mass >= Settings.TopP
                    : floor <= Settings.MinP * top);
            if (enough)
            {
                break;
            }
        }

        var ids = _candidates.AsSpan(0, count);
        var probabilities = _scratch.AsSpan(0, count);
        probabilities.Sort(ids, static (a, b) => b.CompareTo(a));

        // Top-k, then top-p over what top-k kept (renormalised, as Hugging Face's warpers chain), then min-p.
        double normaliser = 1;
        if (Settings.TopK > 0 && count > Settings.TopK)
        {
            count = Settings.TopK;
            normaliser = 0;
            foreach (float p in probabilities[..count])
            {
                normaliser += p;
            }
        }

        if (Settings.TopP < 1)
        {
            double cumulative = 0;
            for (int i = 0; i < count; i++)
            {
                cumulative += probabilities[i] / normaliser;
                if (cumulative >= Settings.TopP)
                {
                    count = i + 1;
                    break;
                }
            }
        }

        if (Settings.MinP > 0)
        {
            float threshold = probabilities[0] * Settings.MinP;
            int above = 1;
            while (above < count && probabilities[above] >= threshold)
            {
                above++;
            }

            count = above;
        }

        return count;
    }

    /// <summary>Collects tokens with probability ≥ floor into the candidate buffers; <paramref name="mass"/> is their total.</summary>
    private int Gather(ReadOnlySpan<float> logits, float max, double total, double floor, out double mass)
    {
        if (_scratch.Length < logits.Length)
        {
            _scratch = new float[logits.Length];
            _candidates = new int[logits.Length];
        }

        int count = 0;
        mass = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            double p = Math.Exp(logits[i] - max) / total;
            if (p >= floor)
            {
                _scratch[count] = (float)p;
                _candidates[count++] = i;
                mass += p;
            }
        }

        return count;
    }

    private int Draw(ReadOnlySpan<float> probabilities)
    {
        double total = 0;
        foreach (float p in probabilities)
        {
            total += p;
        }

        double target = _random.NextDouble() * total;
        double cumulative = 0;
        for (int i = 0; i < probabilities.Length; i++)
        {
            cumulative += probabilities[i];
            if (target < cumulative)
            {
                return i;
            }
        }

        return probabilities.Length - 1;
    }
}
