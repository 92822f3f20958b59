using System.Globalization;
using System.Text.Json;
using EdgeRuntime.Client;
using EdgeRuntime.Inference;
using EdgeRuntime.Pipelines;
using EdgeRuntime.Pipelines.Cbnet;
using EdgeRuntime.Pipelines.Mmedge;
using EdgeRuntime.Protocol;
using EdgeRuntime.Visuals;
using EdgeRuntime.Evaluation;

namespace EdgeRuntime.Bench;

/// <summary>
/// build.ps1 bench-pipelines: MMEdge and CBNet on the committed trained models and replayed test data, every figure
/// against its peer in the same run.
/// <list type="bullet">
/// <item>Post-sensing latency (result time − last unit sensed) on real-time replay: sequential (sense everything, then
/// encode), pipelined, pipelined with skipping, interleaved episode by episode so machine noise hits each alike.</item>
/// <item>Accuracy and encoder runs over the whole test set: the models are deterministic, so these come from a fast
/// clock (no pacing); the episodes also run in real time are compared answer by answer, and the count that differ is
/// reported.</item>
/// <item>The optimizer under three budgets: what it chose, what it predicted, what was measured.</item>
/// <item>CBNet vs the full model vs early exit on the Fashion-MNIST test set, one image at a time.</item>
/// </list>
/// </summary>
internal static class PipelineBench
{
    private static readonly CultureInfo C = CultureInfo.InvariantCulture;

    public static async Task<int> RunAsync(string modelsDir, string samplesDir, string outDir, bool quick)
    {
        var options = new InferenceOptions { IntraOpThreads = 1, InterOpThreads = 1, Workers = Environment.ProcessorCount };
        using var registry = new ModelRegistry(modelsDir, options);
        using var scheduler = new InferenceScheduler(options);
        var invoker = new ModelInvoker(registry, scheduler);
        var results = new List<BenchResult>();
        Directory.CreateDirectory(outDir);

        var mmedge = await MmedgePipeline.LoadAsync(new PipelineDefinition("digits", "mmedge", "mmedge/mmedge.json"), Path.Combine(modelsDir, "mmedge/mmedge.json"), invoker, null, CancellationToken.None);
        string episodes = Path.Combine(samplesDir, "mmedge/test");
        int[] labels = [.. File.ReadAllLines(Path.Combine(episodes, "labels.csv")).Skip(1).Select(l => int.Parse(l.Split(',')[1], C))];
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores; mmedge: {labels.Length} test episodes; latency table:");
        foreach (var entry in mmedge.Latency.Entries())
        {
            Console.WriteLine($"  {entry.Model,-28} unit {entry.UnitMs,5} ms  {entry.Ms,8:0.000} ms");
        }

        var best = mmedge.Decide(null).Configuration;
        Console.WriteLine($"most accurate configuration: {best}");

        // 1. Accuracy and encoder work over the whole test set (fast clock).
        var full = await SweepAsync(mmedge, episodes, labels, best, skip: false);
        var skipped = await SweepAsync(mmedge, episodes, labels, best, skip: true);
        double saving = 100.0 * (1 - ((double)skipped.AudioEncoded / full.AudioEncoded));
        double drop = full.AccuracyPct - skipped.AccuracyPct;
        Console.WriteLine(string.Create(C, $"accuracy: all units {full.AccuracyPct:0.00}%, with skipping {skipped.AccuracyPct:0.00}%; audio encoder runs {full.AudioEncoded} -> {skipped.AudioEncoded}"));

        // 2. Post-sensing latency on real-time replay, interleaved.
        int latencyEpisodes = quick ? 6 : 40;
        var sequential = new List<PipelineResult>();
        var pipelined = new List<PipelineResult>();
        var pipelinedSkip = new List<PipelineResult>();
        int disagreements = 0, paceDifferences = 0;
        for (int e = 0; e < latencyEpisodes; e++)
        {
            var s = await RunEpisodeAsync(mmedge, episodes, e, best, sequential: true, skip: false, new RealtimeClock());
            var p = await RunEpisodeAsync(mmedge, episodes, e, best, sequential: false, skip: false, new RealtimeClock());
            var k = await RunEpisodeAsync(mmedge, episodes, e, best, sequential: false, skip: true, new RealtimeClock());
            disagreements += s.Prediction == p.Prediction ? 0 : 1;
            paceDifferences += (p.Prediction == full.Predictions[e] ? 0 : 1) + (k.Prediction == skipped.Predictions[e] ? 0 : 1);
            sequential.Add(s);
            pipelined.Add(p);
            pipelinedSkip.Add(k);
            if (e == 0)
            {
                File.WriteAllText(Path.Combine(outDir, "mmedge-timeline.svg"), PipelineTimeline.RenderSvg([("sequential: sense everything, then encode", s), ("pipelined: encode each unit as it is sensed", p), ("pipelined + speculative skipping", k)]));
            }
        }

        double seqMs = Statistics.Median(sequential.Select(r => r.PostSensingMs));
        double pipeMs = Statistics.Median(pipelined.Select(r => r.PostSensingMs));
        double skipMs = Statistics.Median(pipelinedSkip.Select(r => r.PostSensingMs));
        Console.WriteLine(string.Create(C, $"post-sensing latency (median of {latencyEpisodes}): sequential {seqMs:0.00} ms, pipelined {pipeMs:0.00} ms, pipelined+skip {skipMs:0.00} ms; {disagreements} predictions differ between sequential and pipelined; {paceDifferences} of {2 * latencyEpisodes} real-time answers differ from the fast clock's"));
        results.Add(new BenchResult("mmedge_pipelined_vs_sequential_latency", pipeMs / seqMs, "ratio", 0.35, pipeMs / seqMs / 0.35,
            string.Create(C, $"median post-sensing latency, pipelined {pipeMs:0.00} ms vs sequential {seqMs:0.00} ms over {latencyEpisodes} real-time episodes ({best}); {disagreements} of {latencyEpisodes} predictions differ; baseline is the target")));
        results.Add(new BenchResult("mmedge_sequential_post_sensing_ms", seqMs, "ms", null, null, "median; sense all units, then encode them (modalities in parallel), aggregate, fuse"));
        results.Add(new BenchResult("mmedge_pipelined_post_sensing_ms", pipeMs, "ms", seqMs, pipeMs / seqMs, "median; each unit encoded as soon as it is sensed"));
        results.Add(new BenchResult("mmedge_pipelined_skip_post_sensing_ms", skipMs, "ms", seqMs, skipMs / seqMs, "median; after the last unit actually sensed (a skip ends sensing early)"));
        double pipeResult = Statistics.Median(pipelined.Select(r => r.ResultMs));
        double skipResult = Statistics.Median(pipelinedSkip.Select(r => r.ResultMs));
        results.Add(new BenchResult("mmedge_skip_result_ms", skipResult, "ms", pipeResult, skipResult / pipeResult, "median time from the start of sensing to the result, pipelined with skipping vs pipelined without"));
        results.Add(new BenchResult("mmedge_skip_encoder_saving_pct", saving, "%", 30, saving / 30,
            string.Create(C, $"audio (slow modality) encoder runs over {labels.Length} test episodes: {full.AudioEncoded} without skipping, {skipped.AudioEncoded} with; baseline is the target")));
        results.Add(new BenchResult("mmedge_skip_accuracy_drop_pts", drop, "pts", 1, drop / 1,
            string.Create(C, $"accuracy {full.AccuracyPct:0.00}% with all units vs {skipped.AccuracyPct:0.00}% with skipping, {labels.Length} test episodes (fast clock; {paceDifferences} of {2 * latencyEpisodes} answers differ when the first {latencyEpisodes} run in real time); baseline is the target (at most)")));
        results.Add(new BenchResult("mmedge_accuracy_pct", full.AccuracyPct, "%", null, null, $"{best}, all units, {labels.Length} test episodes"));

        // 3. The optimizer under three budgets: below the fastest configuration, in the middle, above the slowest. Its
        // predictions include the overhead term learned from the real-time runs above, so they are not independent of
        // them; the note says how much of each prediction that term is.
        var estimates = mmedge.Estimates();
        double fastest = estimates.Min(e => e.PredictedMs), slowest = estimates.Max(e => e.PredictedMs);
        double[] budgets = [Math.Round(fastest * 0.5, 2), Math.Round((fastest + slowest) / 2, 2), Math.Round(slowest * 1.5, 2)];
        foreach (double budget in budgets)
        {
            var decision = mmedge.Decide(budget);
            double overhead = mmedge.OverheadMs;
            var sweep = await SweepAsync(mmedge, episodes, labels, decision.Configuration, skip: false);
            var measured = new List<double>();
            for (int e = 0; e < (quick ? 3 : 15); e++)
            {
                measured.Add((await RunEpisodeAsync(mmedge, episodes, e, decision.Configuration, sequential: false, skip: false, new RealtimeClock())).PostSensingMs);
            }

            double m = Statistics.Median(measured);
            string name = string.Create(C, $"mmedge_optimizer_budget_{budget:0.##}ms_post_sensing_ms");
            results.Add(new BenchResult(name, m, "ms", budget, m / budget,
                string.Create(C, $"chose {decision.Configuration} ({(decision.WithinBudget ? "fits" : "nothing fits: fastest")}); predicted {decision.PredictedMs:0.00} ms ({decision.PredictedMs - overhead:0.00} from the latency table + {overhead:0.00} learned overhead), measured median {m:0.00} ms; accuracy {sweep.AccuracyPct:0.00}% (predicted {decision.PredictedAccuracy * 100:0.00}%)")));
            Console.WriteLine($"budget {budget} ms: {decision.Reason}; measured {m:0.00} ms, accuracy {sweep.AccuracyPct:0.00}%");
        }

        // 4. Live sensors: the same pipeline fed as samples and frames arrive, against the replay from files.
        results.AddRange(await LivePipelineBench.RunAsync(mmedge, invoker, Path.Combine(modelsDir, "mmedge/mmedge.json"), episodes, best, quick));

        // 5. CBNet on the Fashion-MNIST test set (the Debian package's 10 000 images, or the committed 1 000).
        var cascade = await CbnetCascade.LoadAsync("fashion", Path.Combine(modelsDir, "cbnet/cbnet.json"), invoker, null, CancellationToken.None);
        var images = FashionMnist.DebianTestSetPath is { } debian
            ? FashionMnist.ReadTestSet(debian)
            : FashionMnist.ReadNpy(Path.Combine(samplesDir, "cbnet/test_images_1000.npy"), Path.Combine(samplesDir, "cbnet/test_labels_1000.npy"));
        if (quick)
        {
            images = images.Take(500);
        }

        var cbnet = await CbnetBench.RunAsync(cascade, images, warmup: 50, CancellationToken.None);
        foreach (var mode in cbnet.Modes)
        {
            Console.WriteLine(string.Create(C, $"cbnet {mode.Name,-14} accuracy {mode.AccuracyPct:0.00}%  mean {mode.MeanMs:0.000} ms  p50 {mode.P50Ms:0.000} ms  p99 {mode.P99Ms:0.000} ms{(mode.DivertedPct is double d ? $"  diverted {d:0.0}%" : "")}"));
        }

        // On the whole test set the accuracies must be the training script's: the same graphs on the same images.
        if (cascade.Manifest.TestAccuracy is { } trained && cbnet.Images == 10_000)
        {
            double[] expected = [trained.Full, trained.Light, trained.Cbnet, trained.CbnetGated, trained.EarlyExit];
            string[] names = ["full", "light", "cascade", "cascade-gated", "early-exit"];
            double worst = names.Select((n, i) => Math.Abs(cbnet.Modes.First(m => m.Name == n).AccuracyPct - (100 * expected[i]))).Max();
            results.Add(new BenchResult("cbnet_accuracy_vs_training_max_diff_pts", worst, "pts", null, null,
                "largest difference between a mode's accuracy here and the manifest's test accuracy from the training script, over the 10000 test images (full, light, cascade, gated cascade, early exit)"));
            Console.WriteLine(string.Create(C, $"cbnet accuracies vs the training script's: largest difference {worst:0.000} pts"));
        }

        var fullMode = cbnet.Modes.First(m => m.Name == "full");
        var gated = cbnet.Modes.First(m => m.Name == "cascade-gated");
        results.Add(new BenchResult("cbnet_speedup_vs_full", cbnet.CbnetSpeedupVsFull, "x", 3, cbnet.CbnetSpeedupVsFull / 3,
            string.Create(C, $"mean latency per image at batch 1: full {fullMode.MeanMs:0.000} ms vs cascade with confidence gate {gated.MeanMs:0.000} ms ({gated.DivertedPct:0.0}% fell back to full) over {cbnet.Images} test images; baseline is the target")));
        results.Add(new BenchResult("cbnet_accuracy_drop_pts", cbnet.CbnetAccuracyDropPts, "pts", 1.5, cbnet.CbnetAccuracyDropPts / 1.5,
            string.Create(C, $"full {fullMode.AccuracyPct:0.00}% vs gated cascade {gated.AccuracyPct:0.00}%; baseline is the target (at most)")));
        results.Add(new BenchResult("cbnet_ungated_speedup_vs_full", cbnet.CbnetUngatedSpeedupVsFull, "x", null, null, string.Create(C, $"autoencoder + light classifier alone; accuracy drop {cbnet.CbnetUngatedAccuracyDropPts:0.00} pts")));
        results.Add(new BenchResult("cbnet_early_exit_speedup_vs_full", cbnet.EarlyExitSpeedupVsFull, "x", cbnet.CbnetSpeedupVsFull, cbnet.EarlyExitSpeedupVsFull / cbnet.CbnetSpeedupVsFull, string.Create(C, $"early-exit baseline; accuracy drop {cbnet.EarlyExitAccuracyDropPts:0.00} pts; baseline is the gated cascade's speedup")));

        string jsonPath = Path.Combine(outDir, "pipelines.json");
        File.WriteAllText(jsonPath, JsonSerializer.Serialize(results, BenchJsonContext.Default.ListBenchResult));
        File.WriteAllText(Path.Combine(outDir, "cbnet.json"), JsonSerializer.Serialize(cbnet, EvaluationJsonContext.Default.CbnetBenchReport));
        Console.WriteLine($"wrote {jsonPath}, {Path.Combine(outDir, "cbnet.json")} and {Path.Combine(outDir, "mmedge-timeline.svg")}");
        return 0;
    }

    private sealed record Sweep(double AccuracyPct, int AudioEncoded, int[] Predictions);

    private static async Task<Sweep> SweepAsync(MmedgePipeline pipeline, string episodes, int[] labels, PipelineConfiguration configuration, bool skip)
    {
        int correct = 0, audioEncoded = 0;
        var predictions = new int[labels.Length];
        for (int e = 0; e < labels.Length; e++)
        {
            var result = await RunEpisodeAsync(pipeline, episodes, e, configuration, sequential: false, skip, new FastClock());
            predictions[e] = result.Prediction;
            correct += result.Prediction == labels[e] ? 1 : 0;
            audioEncoded += result.Counts.First(c => c.Modality == "audio").Encoded;
        }

        return new Sweep(100.0 * correct / labels.Length, audioEncoded, predictions);
    }

    private static Task<PipelineResult> RunEpisodeAsync(MmedgePipeline pipeline, string episodes, int episode, PipelineConfiguration configuration, bool sequential, bool skip, IPipelineClock clock) =>
        pipeline.RunAsync(
            new MmedgeRunOptions(Path.Combine(episodes, $"{episode:0000}.wav"), Path.Combine(episodes, $"{episode:0000}.npy"), clock)
            {
                Sequential = sequential,
                Skip = skip,
                Configuration = configuration,
            },
            CancellationToken.None);
}
