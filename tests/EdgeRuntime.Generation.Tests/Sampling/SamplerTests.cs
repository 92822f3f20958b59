using EdgeRuntime.Generation.Sampling;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Generation.Tests.Sampling;

public sealed class SamplerTests
{
    private static readonly float[] Logits = [1.0f, 3.0f, 2.5f, -1.0f, 0.5f, 2.9f];

    [Fact]
    public void Greedy_takes_the_largest_logit()
    {
        var sampler = new Sampler(SamplingSettings.Greedy);
        Assert.Equal(1, sampler.Next(Logits.ToArray(), null));
    }

    [Fact]
    public void Top_k_of_one_and_a_tiny_top_p_are_greedy_even_when_hot()
    {
        var topK = new Sampler(new SamplingSettings(5f, 1, 1, 0, 1, 42));
        var topP = new Sampler(new SamplingSettings(1f, 0, 0.01f, 0, 1, 42));
        for (int i = 0; i < 50; i++)
        {
            Assert.Equal(1, topK.Next(Logits.ToArray(), null));
            Assert.Equal(1, topP.Next(Logits.ToArray(), null));
        }
    }

    [Fact]
    public void The_same_seed_draws_the_same_sequence_and_another_seed_does_not()
    {
        int[] Draws(ulong seed)
        {
            var sampler = new Sampler(new SamplingSettings(1.5f, 0, 1, 0, 1, seed));
            return Enumerable.Range(0, 64).Select(_ => sampler.Next(Logits.ToArray(), null)).ToArray();
        }

        Assert.Equal(Draws(7), Draws(7));
        Assert.NotEqual(Draws(7), Draws(8));
    }

    [Fact]
    public void Temperature_sampling_follows_the_softmax()
    {
        var sampler = new Sampler(new SamplingSettings(1f, 0, 1, 0, 1, 3));
        var counts = new int[Logits.Length];
        const int Draws = 40000;
        for (int i = 0; i < Draws; i++)
        {
            counts[sampler.Next(Logits.ToArray(), null)]++;
        }

        double total = Logits.Sum(l => Math.Exp(l));
        for (int i = 0; i < Logits.Length; i++)
        {
            double expected = Math.Exp(Logits[i]) / total;
            double observed = counts[i] / (double)Draws;

            // Five standard deviations of a binomial proportion: a real bias fails, chance does not.
            double sigma = Math.Sqrt(expected * (1 - expected) / Draws);
            Assert.True(Math.Abs(observed - expected) < (5 * sigma) + 1e-4, $"token {i}: observed {observed:F4}, softmax {expected:F4}");
        }
    }

    [Fact]
    public void Top_k_top_p_and_min_p_only_ever_draw_the_tokens_they_keep()
    {
        // Probabilities ∝ e^logit: token 1 (3.0), 5 (2.9), 2 (2.5), then 0, 4, 3.
        var topK = new Sampler(new SamplingSettings(1f, 2, 1, 0, 1, 1));
        var topP = new Sampler(new SamplingSettings(1f, 0, 0.6f, 0, 1, 1)); // 1 and 5 hold 0.32 + 0.29 ≥ 0.6 of the mass
        var minP = new Sampler(new SamplingSettings(1f, 0, 1, 0.5f, 1, 1)); // keeps p ≥ 0.5·p(1): tokens 1, 5, 2
        var seenK = new HashSet<int>();
        var seenP = new HashSet<int>();
        var seenMin = new HashSet<int>();
        for (int i = 0; i < 2000; i++)
        {
            seenK.Add(topK.Next(Logits.ToArray(), null));
            seenP.Add(topP.Next(Logits.ToArray(), null));
            seenMin.Add(minP.Next(Logits.ToArray(), null));
        }

        Assert.Equal([1, 5], seenK.Order());
        Assert.Equal([1, 5], seenP.Order());
        Assert.Equal([1, 2, 5], seenMin.Order());
    }

    [Fact]
    public void Top_p_is_exact_over_a_large_vocabulary()
    {
        // 50 000 tokens: one at logit 10 and the rest spread below. With topP 0.5 only the top token may be drawn
        // when it alone holds at least half the mass; the filtering shortcut must give the same answer as a full sort.
        var logits = new float[50000];
        var random = new Random(1);
        for (int i = 0; i < logits.Length; i++)
        {
            logits[i] = (float)random.NextDouble();
        }

        logits[123] = 12f; // e^12 ≈ 162 755 against ≈ 50 000 · e^0.5 ≈ 82 436 for the rest: about 66 %
        var sampler = new Sampler(new SamplingSettings(1f, 0, 0.5f, 0, 1, 9));
        for (int i = 0; i < 20; i++)
        {
            Assert.Equal(123, sampler.Next(logits.ToArray(), null));
        }
    }

    [Fact]
    public void Repetition_penalty_makes_a_seen_token_less_likely()
    {
        var sampler = new Sampler(SamplingSettings.Greedy with { RepetitionPenalty = 2f });
        float[] logits = [1.0f, 3.0f, 2.5f];
        Assert.Equal(2, sampler.Next(logits, new HashSet<int> { 1 }));
        Assert.Equal(1.5f, logits[1]);
    }

    [Theory]
    [InlineData(-0.1f, null, null, null, null, "temperature")]
    [InlineData(null, -1, null, null, null, "topK")]
    [InlineData(null, null, 0f, null, null, "topP")]
    [InlineData(null, null, 1.5f, null, null, "topP")]
    [InlineData(null, null, null, 1f, null, "minP")]
    [InlineData(null, null, null, null, 0f, "repetitionPenalty")]
    public void Out_of_range_options_are_refused_by_name(float? temperature, int? topK, float? topP, float? minP, float? penalty, string named)
    {
        var spec = new SamplingSpec { Temperature = temperature, TopK = topK, TopP = topP, MinP = minP, RepetitionPenalty = penalty };
        var error = Assert.Throws<EdgeRuntimeException>(() => SamplingSettings.From(spec, 0));
        Assert.Equal(ErrorCodes.InvalidSampling, error.Code);
        Assert.StartsWith(named, error.Message, StringComparison.Ordinal);
    }
}
