using System.Text.Json.Serialization;
using System.Diagnostics;
using EdgeRuntime.Inference;
using EdgeRuntime.Pipelines.Cbnet;

namespace EdgeRuntime.Evaluation;

/// <summary>One way of answering, measured over every image: accuracy and wall latency per image at batch 1.</summary>
/// <param name="Name">full, light, cascade, cascade-gated or early-exit.</param>
/// <param name="DivertedPct">
/// cascade-gated: the share of images sent to the full model; early-exit: the share answered at stage 1; null for the
/// others.
/// </param>
public sealed record CbnetModeReport(string Name, string Mode, bool Gate, int Count, double AccuracyPct, double MeanMs, double P50Ms, double P99Ms, double? DivertedPct);

/// <summary>
/// The CBNet comparison. Speedups are the full model's mean latency over the other's; accuracy drops are the full
/// model's accuracy minus the other's, in percentage points. The bench publishes the gated figures as
/// cbnet_speedup_vs_full and cbnet_accuracy_drop_pts.
/// </summary>
public sealed record CbnetBenchReport(
    string Pipeline,
    int Images,
    int Warmup,
    double GateThreshold,
    double ExitThreshold,
    CbnetModeReport[] Modes,
    double CbnetSpeedupVsFull,
    double CbnetAccuracyDropPts,
    double CbnetUngatedSpeedupVsFull,
    double CbnetUngatedAccuracyDropPts,
    double EarlyExitSpeedupVsFull,
    double EarlyExitAccuracyDropPts);

/// <summary>
/// Runs every image through every mode one at a time, as a device answering one request after another would, and
/// times each <see cref="CbnetCascade.RunAsync"/> call with a stopwatch: the latency a caller in the same process sees.
/// </summary>
public static class CbnetBench
{
    private static readonly (string Name, string Mode, bool Gate)[] Variants =
    [
        ("full", "full", false),
        ("light", "light", false),
        ("cascade", "cascade", false),
        ("cascade-gated", "cascade", true),
        ("early-exit", "early-exit", false),
    ];

    /// <param name="warmup">Images (the first ones) run through every mode before timing starts, untimed.</param>
    public static async Task<CbnetBenchReport> RunAsync(CbnetCascade cascade, LabeledImages data, int warmup, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(cascade);
        ArgumentNullException.ThrowIfNull(data);
        if (data.Count == 0)
        {
            throw new ArgumentException("The bench needs at least one image.", nameof(data));
        }

        var inputs = new float[data.Count][];
        for (int i = 0; i < inputs.Length; i++)
        {
            inputs[i] = FashionMnist.ToInput(data.Image(i));
        }

        int warm = Math.Min(Math.Max(warmup, 0), data.Count);
        for (int i = 0; i < warm; i++)
        {
            foreach (var (_, mode, gate) in Variants)
            {
                await cascade.RunAsync(inputs[i], mode, gate, cancellationToken).ConfigureAwait(false);
            }
        }

        var latencies = new double[Variants.Length][];
        var correct = new int[Variants.Length];
        var diverted = new int[Variants.Length];
        for (int v = 0; v < Variants.Length; v++)
        {
            latencies[v] = new double[data.Count];
        }

        for (int i = 0; i < data.Count; i++)
        {
            // Rotate which mode goes first, so caches warmed by the previous call and bursts of machine noise fall on
            // every mode alike.
            for (int k = 0; k < Variants.Length; k++)
            {
                int v = (i + k) % Variants.Length;
                var (_, mode, gate) = Variants[v];
                long start = Stopwatch.GetTimestamp();
                var result = await cascade.RunAsync(inputs[i], mode, gate, cancellationToken).ConfigureAwait(false);
                latencies[v][i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                correct[v] += result.Prediction == data.Labels[i] ? 1 : 0;
                diverted[v] += result.Path is "fallback" or "exit" ? 1 : 0;
            }
        }

        var modes = new CbnetModeReport[Variants.Length];
        for (int v = 0; v < Variants.Length; v++)
        {
            var (name, mode, gate) = Variants[v];
            double[] sorted = [.. latencies[v].Order()];
            bool diverts = gate || mode == "early-exit";
            modes[v] = new CbnetModeReport(
                name,
                mode,
                gate,
                data.Count,
                Percent(correct[v], data.Count),
                sorted.Average(),
                LatencyRecorder.Percentile(sorted, 0.50),
                LatencyRecorder.Percentile(sorted, 0.99),
                diverts ? Percent(diverted[v], data.Count) : null);
        }

        var full = modes.Single(m => m.Name == "full");
        var ungated = modes.Single(m => m.Name == "cascade");
        var gated = modes.Single(m => m.Name == "cascade-gated");
        var earlyExit = modes.Single(m => m.Name == "early-exit");
        return new CbnetBenchReport(
            cascade.Pipeline,
            data.Count,
            warm,
            cascade.GateThreshold,
            cascade.ExitThreshold,
            modes,
            full.MeanMs / gated.MeanMs,
            full.AccuracyPct - gated.AccuracyPct,
            full.MeanMs / ungated.MeanMs,
            full.AccuracyPct - ungated.AccuracyPct,
            full.MeanMs / earlyExit.MeanMs,
            full.AccuracyPct - earlyExit.AccuracyPct);
    }

    private static double Percent(int part, int whole) => 100.0 * part / whole;
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(CbnetBenchReport))]
public sealed partial class EvaluationJsonContext : JsonSerializerContext;
