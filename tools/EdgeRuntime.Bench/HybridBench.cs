using EdgeRuntime.Client;
using EdgeRuntime.Generation.Folder;
using EdgeRuntime.TestModels.Language;
using EdgeRuntime.Tools;

namespace EdgeRuntime.Bench;

/// <summary>
/// bench-llm's hybrid part: LFM2-350M's shapes (hidden 1024, 16 layers of which 6 attention, vocabulary 65536) with
/// seeded weights and int4 projections (block 32), served by the published edged: decode at contexts 128 and 2048,
/// prefill of a 256-token prompt, and what a session's state costs at 2048 next to an all-attention model of the same
/// size.
/// </summary>
internal static class HybridBench
{
    private const int Seed = 5;
    private const int Context = 2048;
    private const int BlockSize = 32;
    private const string Model = "lfm2";

    public static async Task<List<BenchResult>> RunAsync(string publishDir, string cacheDir, int threads, bool quick)
    {
        string folder = EnsureFolder(cacheDir);
        var config = LanguageModelFolder.Open(folder).Config;
        Console.WriteLine($"hybrid model: {folder} ({config.WeightsBytes / 1e6:0} MB of weights, int4 block {config.ProjectionBlockSize})");
        var ours = await MeasureAsync(publishDir, folder, threads, quick);
        int runs = quick ? 1 : 3;
        int decodeTokens = quick ? 32 : 64;
        var results = new List<BenchResult>();
        foreach (var (context, tokS) in ours.DecodeByContext)
        {
            results.Add(new($"hybrid_decode_tok_s_ctx{context}", tokS, "tok/s", null, null, $"LFM2-350M shapes, int4 block {BlockSize}, one session, {decodeTokens} greedy tokens after a {context - decodeTokens}-token prompt, median of {runs}, {threads} threads"));
        }

        results.Add(new("hybrid_prefill_tok_s", ours.PrefillTokS, "tok/s", null, null, $"256-token prompt, median of {runs}"));

        // What one session holds at 2048 positions, against the same model with every layer attention (the KV cache of
        // 16 layers instead of 6, and no conv state).
        long attentionOnly = 2L * config.Layers * config.KvHeads * config.HeadDim * sizeof(float) * Context;
        double ratio = (double)ours.SessionStateBytes / attentionOnly;
        results.Add(new("hybrid_session_state_kib_at_2048", ours.SessionStateBytes / 1024.0, "KiB", attentionOnly / 1024.0, ratio, $"info.sessionStateBytes at contextLimit {Context} ({ours.Layers}); baseline: the same shapes with all {config.Layers} layers attention (float32 KV)"));
        return results;
    }

    /// <summary>The seeded folder, written once (a minute or two) and kept outside the repository.</summary>
    private static string EnsureFolder(string cacheDir)
    {
        string folder = Path.Combine(cacheDir, $"lfm2-350m-seed{Seed}-ctx{Context}-int4b{BlockSize}-v1");
        string done = Path.Combine(folder, ".complete");
        if (!File.Exists(done))
        {
            Console.WriteLine($"writing the seeded LFM2-350M-shaped folder to {folder} (once)…");
            var config = SeededLfm2.Lfm2_350M(Context) with { ProjectionFormat = ProjectionFormats.Int4, ProjectionBlockSize = BlockSize };
            SeededLfm2.WriteFolder(folder, config, Seed);
            File.WriteAllText(done, "seeded LFM2-350M shapes, int4 projections\n");
        }

        return folder;
    }

    private static async Task<Figures> MeasureAsync(string publishDir, string folder, int threads, bool quick)
    {
        string work = Directory.CreateTempSubdirectory("edgeruntime-bench-hybrid-").FullName;
        string configPath = Path.Combine(work, "edged.json");
        File.WriteAllText(configPath, $$"""
            { "modelDirectory": "{{work}}",
              "generation": { "threads": {{threads}}, "sessions": 1, "maxBatch": 1, "contextLimit": {{Context}} } }
            """);
        int runs = quick ? 1 : 3;
        int decodeTokens = quick ? 32 : 64;
        var decode = new SortedDictionary<int, double>();
        var prefill = new List<double>();
        using var daemon = DaemonProcess.Start(Path.Combine(publishDir, "edged"), configPath, Path.Combine(work, "edged.sock"));
        await using var client = await EdgeClient.ConnectAsync(daemon.SocketPath);
        var info = await client.LoadAsync(Model, folder);
        await LlmBench.GenerateAsync(client, Model, LlmBench.Prompt(16), 8);
        foreach (int context in new[] { 128, Context })
        {
            var samples = new List<double>();
            for (int r = 0; r < runs; r++)
            {
                var run = await LlmBench.GenerateAsync(client, Model, LlmBench.Prompt(context - decodeTokens - 1), decodeTokens);
                samples.Add(run.Summary.DecodeTokensPerSecond);
            }

            decode[context] = Statistics.Median(samples);
            Console.WriteLine($"hybrid decode at context {context}: {decode[context]:0.00} tok/s");
        }

        for (int r = 0; r < runs; r++)
        {
            prefill.Add((await LlmBench.GenerateAsync(client, Model, LlmBench.Prompt(256), 1)).Summary.PrefillTokensPerSecond);
        }

        Console.WriteLine($"hybrid prefill: {Statistics.Median(prefill):0.0} tok/s");
        return new Figures(decode, Statistics.Median(prefill), info.SessionStateBytes ?? 0, info.Layers ?? "?");
    }

    private sealed record Figures(SortedDictionary<int, double> DecodeByContext, double PrefillTokS, long SessionStateBytes, string Layers);
}
