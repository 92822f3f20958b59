using System.Globalization;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Pipelines.Mmedge;

/// <summary>A configuration with what the predictors expect of it: accuracy (0..1) and post-sensing latency.</summary>
public sealed record ConfigurationEstimate(PipelineConfiguration Configuration, double PredictedAccuracy, double PredictedMs);

/// <summary>The optimizer's choice, and why: within the budget, or nothing fitted and the fastest was taken.</summary>
public sealed record OptimizerDecision(PipelineConfiguration Configuration, double PredictedAccuracy, double PredictedMs, bool WithinBudget, string Reason);

/// <summary>
/// Exhaustive search over every configuration (there are few: encoder variants × unit options per modality): the
/// highest predicted accuracy whose predicted latency fits the budget, ties going to the faster one. When nothing
/// fits, the fastest configuration, and the decision says so. The chosen configuration is the one that runs.
/// </summary>
public static class ConfigurationOptimizer
{
    public static OptimizerDecision Choose(IReadOnlyList<ConfigurationEstimate> candidates, double? budgetMs)
    {
        if (candidates.Count == 0)
        {
            throw new ArgumentException("There are no configurations to choose from.", nameof(candidates));
        }

        ConfigurationEstimate? best = null;
        ConfigurationEstimate fastest = candidates[0];
        foreach (var candidate in candidates)
        {
            if (candidate.PredictedMs < fastest.PredictedMs)
            {
                fastest = candidate;
            }

            if (budgetMs is double budget && !(candidate.PredictedMs <= budget))
            {
                continue;
            }

            if (best is null
                || candidate.PredictedAccuracy > best.PredictedAccuracy
                || (candidate.PredictedAccuracy == best.PredictedAccuracy && candidate.PredictedMs < best.PredictedMs))
            {
                best = candidate;
            }
        }

        var c = CultureInfo.InvariantCulture;
        if (best is not null)
        {
            string reason = budgetMs is double b
                ? string.Create(c, $"best predicted accuracy {best.PredictedAccuracy:P1} within the {b:0.###} ms budget (predicted {best.PredictedMs:0.###} ms, {candidates.Count(x => x.PredictedMs <= b)} of {candidates.Count} fit)")
                : string.Create(c, $"no budget: best predicted accuracy {best.PredictedAccuracy:P1} (predicted {best.PredictedMs:0.###} ms)");
            return new OptimizerDecision(best.Configuration, best.PredictedAccuracy, best.PredictedMs, true, reason);
        }

        return new OptimizerDecision(
            fastest.Configuration,
            fastest.PredictedAccuracy,
            fastest.PredictedMs,
            false,
            string.Create(c, $"nothing fits the {budgetMs:0.###} ms budget; running the fastest configuration (predicted {fastest.PredictedMs:0.###} ms, accuracy {fastest.PredictedAccuracy:P1})"));
    }
}
