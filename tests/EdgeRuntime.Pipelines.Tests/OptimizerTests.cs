using EdgeRuntime.Pipelines.Mmedge;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Pipelines.Tests;

public sealed class OptimizerTests
{
    private static PipelineConfiguration Config(string audio, double unitMs, string vision, int stride) =>
        new([new ModalityChoice("audio", audio, unitMs, 1), new ModalityChoice("vision", vision, 62.5, stride)]);

    [Fact]
    public void Picks_the_most_accurate_configuration_that_fits_the_budget()
    {
        ConfigurationEstimate[] candidates =
        [
            new(Config("large", 100, "large", 1), 0.97, 9.0),
            new(Config("large", 200, "small", 1), 0.95, 4.0),
            new(Config("small", 100, "small", 2), 0.90, 1.0),
        ];

        var decision = ConfigurationOptimizer.Choose(candidates, budgetMs: 5);

        Assert.True(decision.WithinBudget);
        Assert.Equal(candidates[1].Configuration, decision.Configuration);
        Assert.Contains("within the 5 ms budget", decision.Reason);
    }

    [Fact]
    public void Without_a_budget_takes_the_most_accurate()
    {
        ConfigurationEstimate[] candidates = [new(Config("small", 100, "small", 1), 0.9, 1), new(Config("large", 100, "large", 1), 0.97, 30)];
        Assert.Equal(candidates[1].Configuration, ConfigurationOptimizer.Choose(candidates, null).Configuration);
    }

    [Fact]
    public void When_nothing_fits_it_runs_the_fastest_and_says_so()
    {
        ConfigurationEstimate[] candidates =
        [
            new(Config("large", 100, "large", 1), 0.97, 9.0),
            new(Config("small", 200, "small", 2), 0.85, 2.5),
            new(Config("small", 100, "small", 1), 0.90, 3.0),
        ];

        var decision = ConfigurationOptimizer.Choose(candidates, budgetMs: 1);

        Assert.False(decision.WithinBudget);
        Assert.Equal(candidates[1].Configuration, decision.Configuration);
        Assert.Contains("nothing fits", decision.Reason);
    }

    [Fact]
    public void Equal_accuracy_goes_to_the_faster()
    {
        ConfigurationEstimate[] candidates = [new(Config("large", 100, "large", 1), 0.95, 8), new(Config("large", 200, "large", 1), 0.95, 3)];
        Assert.Equal(candidates[1].Configuration, ConfigurationOptimizer.Choose(candidates, 10).Configuration);
    }

    [Fact]
    public void Never_exceeds_the_budget_when_something_fits_over_random_tables()
    {
        var random = new Random(11);
        for (int trial = 0; trial < 2000; trial++)
        {
            var candidates = Enumerable.Range(0, 16)
                .Select(i => new ConfigurationEstimate(Config(i % 2 == 0 ? "small" : "large", 100 * (1 + (i / 2 % 2)), i / 4 % 2 == 0 ? "small" : "large", 1 + (i / 8)), random.NextDouble(), random.NextDouble() * 20))
                .ToArray();
            double budget = random.NextDouble() * 12;

            var decision = ConfigurationOptimizer.Choose(candidates, budget);

            var fitting = candidates.Where(c => c.PredictedMs <= budget).ToArray();
            if (fitting.Length == 0)
            {
                Assert.False(decision.WithinBudget);
                Assert.Equal(candidates.Min(c => c.PredictedMs), decision.PredictedMs);
            }
            else
            {
                Assert.True(decision.WithinBudget);
                Assert.True(decision.PredictedMs <= budget);
                Assert.Equal(fitting.Max(c => c.PredictedAccuracy), decision.PredictedAccuracy);
            }
        }
    }

    [Fact]
    public void Latency_prediction_queues_units_behind_a_slow_encoder()
    {
        // Units every 100 ms; an encoder of 30 ms keeps up: the last unit waits only for itself.
        var keepsUp = new LatencyPredictor.ModalitySchedule([100, 200, 300], 30, 2);
        Assert.Equal(30 + 2 + 1, LatencyPredictor.PostSensingMs([keepsUp], fusionMs: 1), 6);

        // An encoder of 150 ms falls behind: finishes at 250, 400, 550; the last unit arrived at 300.
        var fallsBehind = new LatencyPredictor.ModalitySchedule([100, 200, 300], 150, 2);
        Assert.Equal(550 + 2 + 1 - 300, LatencyPredictor.PostSensingMs([fallsBehind], fusionMs: 1), 6);
    }

    [Theory]
    [InlineData(10, new[] { 5, 7, 9 })]
    [InlineData(5, new[] { 3, 4 })]
    [InlineData(2, new[] { 1 })]
    public void Checkpoints_fall_after_the_fraction_of_units(int units, int[] expected) =>
        Assert.Equal(expected, SkipCheckpoints.UnitCounts([0.5, 0.7, 0.9], units));
}
