using System.Globalization;
using EdgeRuntime.Conversion.Import;
using EdgeRuntime.Generation.Evaluation;
using EdgeRuntime.Generation.Folder;
using EdgeRuntime.Generation.Tokenization;

namespace EdgeRuntime.Bench;

/// <summary>
/// bench-llm's DeltaAttention part: the two models we trained (tools/bitnet and tools/lfm2, imported as the committed
/// folders are) scored on held-out text (tools/bitnet/heldout-sample.txt, the first 12 held-out chapters) one token
/// per step, dense and at three thresholds with a 32-position exact window: the share of the decode steps' q·k work
/// skipped, and the perplexity against the dense model's in the same run.
/// </summary>
internal static class DeltaBench
{
    private const int Window = 32;
    private const int Windows = 16;
    private static readonly double[] Thresholds = [0.25, 1.0, 2.0];

    public static List<BenchResult> Run(string repositoryRoot, string cacheDir, int threads, bool quick)
    {
        var results = new List<BenchResult>();
        string text = File.ReadAllText(Path.Combine(repositoryRoot, "tools", "bitnet", "heldout-sample.txt"));
        int windows = quick ? 4 : Windows;
        foreach (var (family, options) in new[] { ("bitnet", new ImportOptions()), ("lfm2", new ImportOptions { ProjectionFormat = ProjectionFormats.Int4, ProjectionBlockSize = 16 }) })
        {
            string checkpoint = Path.Combine(repositoryRoot, "tools", family, "checkpoint");
            string dense = Import(checkpoint, Path.Combine(cacheDir, "delta", family + "-dense"), options);
            var config = LanguageModelFolder.Open(dense).Config;
            var tokens = ModelTokenizer.Load(Path.Combine(dense, config.Tokenizer), config.VocabSize).Encode(text);
            var baseline = Perplexity.Measure(dense, tokens, windows, threads);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{family}: dense perplexity {baseline.Value:0.00} over {baseline.Predictions} predictions ({windows} windows of {config.ContextLength})"));
            results.Add(new($"deltallm_{family}_dense_ppl", baseline.Value, "ppl", null, null, $"the model trained by tools/{family}, {baseline.Predictions} next-token predictions on tools/bitnet/heldout-sample.txt, one token per step"));
            foreach (double threshold in Thresholds)
            {
                string name = string.Create(CultureInfo.InvariantCulture, $"t{threshold:0.##}").Replace(".", "", StringComparison.Ordinal);
                string folder = Import(checkpoint, Path.Combine(cacheDir, "delta", $"{family}-{name}"), options with { DeltaAttention = new DeltaAttentionSettings { Window = Window, Threshold = threshold } });
                var sparse = Perplexity.Measure(folder, tokens, windows, threads);
                double change = ((sparse.Value / baseline.Value) - 1) * 100;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{family}: threshold {threshold}: {sparse.SparsityPercent:0.0}% of q·k skipped, perplexity {sparse.Value:0.00} ({change:+0.00;-0.00;0.00}%)"));
                string note = string.Create(CultureInfo.InvariantCulture, $"window {Window}, threshold {threshold} x the query's RMS; decode steps' q·k multiply-adds skipped / dense");
                results.Add(new($"deltallm_{family}_{name}_attention_sparsity_pct", sparse.SparsityPercent, "%", null, null, note));
                results.Add(new($"deltallm_{family}_{name}_ppl_change_pct", change, "%", baseline.Value, sparse.Value / baseline.Value, string.Create(CultureInfo.InvariantCulture, $"perplexity {sparse.Value:0.000} against dense {baseline.Value:0.000} in the same run (ratio = sparse / dense)")));
            }
        }

        return results;
    }

    private static string Import(string checkpoint, string folder, ImportOptions options)
    {
        if (Directory.Exists(folder))
        {
            Directory.Delete(folder, recursive: true);
        }

        CheckpointImporter.Import(checkpoint, folder, options);
        return folder;
    }
}
