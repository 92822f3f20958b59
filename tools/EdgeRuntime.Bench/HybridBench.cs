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

    public static async Task<List<BenchResult>> RunAsync(string publishDir, string cacheDir, int threads, bool quick, string? genAiPeer)
    {
        var (folder, genAiFolder) = EnsureFolders(cacheDir);
        string int4Head = EnsureInt4HeadFolder(cacheDir, folder);
        var config = LanguageModelFolder.Open(folder).Config;
        Console.WriteLine($"hybrid model: {folder} ({config.WeightsBytes / 1e6:0} MB of weights, int4 block {config.ProjectionBlockSize}); GenAI's layout of the same weights: {genAiFolder}");
        var ours = await MeasureAsync(publishDir, folder, threads, quick, [128, Context]);
        var oursOnGenAi = await MeasureAsync(publishDir, genAiFolder, threads, quick, [128]);
        var oursInt4Head = await MeasureAsync(publishDir, int4Head, threads, quick, [128, Context]);
        var peer = genAiPeer is null ? null : GenAiPeer.Measure(genAiPeer, genAiFolder, threads, quick ? 1 : 3, DecodeTokens(quick), config.BosTokenId ?? 0, [128, Context]);
        if (peer is null)
        {
            Console.WriteLine("no --genai-peer: ONNX Runtime GenAI is not measured; the hybrid ratios are left out");
        }

        int runs = quick ? 1 : 3;
        var results = new List<BenchResult>();
        foreach (var (context, tokS) in ours.DecodeByContext)
        {
            double? theirs = peer?.DecodeByContext.GetValueOrDefault(context);
            results.Add(new($"hybrid_decode_tok_s_ctx{context}", tokS, "tok/s", theirs, theirs is { } t ? tokS / t : null, $"LFM2-350M shapes, int4 block {BlockSize}, edged's own folder, one session, {DecodeTokens(quick)} greedy tokens after a {context - DecodeTokens(quick)}-position prompt, median of {runs}, {threads} threads; baseline: ONNX Runtime GenAI 0.20 on GenAI's layout of the same weights"));
            if (theirs is { } p)
            {
                results.Add(new($"hybrid_decode_tok_s_vs_ortgenai_ctx{context}", tokS / p, "x", 1.2, tokS / p / 1.2, "target >= 1.2"));
            }
        }

        // The same folder with headFormat int4: a 4-bit copy of the tied table for the head, as GenAI's layout has.
        foreach (var (context, tokS) in oursInt4Head.DecodeByContext)
        {
            double? theirs = peer?.DecodeByContext.GetValueOrDefault(context);
            results.Add(new($"hybrid_int4head_decode_tok_s_ctx{context}", tokS, "tok/s", theirs, theirs is { } t ? tokS / t : null, $"edged's own folder with headFormat int4 (block {BlockSize}), otherwise as above; baseline: ONNX Runtime GenAI 0.20 on GenAI's layout; target >= 1.2 as for the default head"));
        }

        double? peerPrefill = peer?.PrefillTokS;
        results.Add(new("hybrid_prefill_tok_s", ours.PrefillTokS, "tok/s", peerPrefill, peerPrefill is { } pp ? ours.PrefillTokS / pp : null, $"256-token prompt, median of {runs}; baseline: ONNX Runtime GenAI 0.20"));
        if (peerPrefill is { } prefillPeer)
        {
            results.Add(new("hybrid_prefill_tok_s_vs_ortgenai", ours.PrefillTokS / prefillPeer, "x", 1.0, ours.PrefillTokS / prefillPeer, "target >= 1.0"));
        }

        double onGenAi = oursOnGenAi.DecodeByContext[128];
        double? peer128 = peer?.DecodeByContext.GetValueOrDefault(128);
        results.Add(new("int4_decoder_decode_tok_s", onGenAi, "tok/s", peer128, peer128 is { } q ? onGenAi / q : null, "edged running GenAI's folder unchanged (genai_config.json, model.onnx), context 128; baseline: ONNX Runtime GenAI 0.20 on the same folder"));
        if (peer128 is { } genAi128)
        {
            results.Add(new("int4_decoder_decode_tok_s_vs_ortgenai", onGenAi / genAi128, "x", 1.0, onGenAi / genAi128, "target >= 1.0"));
        }

        // What one session holds at 2048 positions, against the same model with every layer attention (the KV cache of
        // 16 layers instead of 6, and no conv state).
        long attentionOnly = 2L * config.Layers * config.KvHeads * config.HeadDim * sizeof(float) * Context;
        double ratio = (double)ours.SessionStateBytes / attentionOnly;
        results.Add(new("hybrid_session_state_kib_at_2048", ours.SessionStateBytes / 1024.0, "KiB", attentionOnly / 1024.0, ratio, $"info.sessionStateBytes at contextLimit {Context} ({ours.Layers}); baseline: the same shapes with all {config.Layers} layers attention (float32 KV)"));
        return results;
    }

    private static int DecodeTokens(bool quick) => quick ? 32 : 64;

    /// <summary>
    /// The seeded folders, written once (a few minutes) and kept outside the repository: ours, and GenAI's layout of
    /// the same weights.
    /// </summary>
    private static (string Ours, string GenAi) EnsureFolders(string cacheDir)
    {
        string folder = Path.Combine(cacheDir, $"lfm2-350m-seed{Seed}-ctx{Context}-int4b{BlockSize}-v2");
        string genAi = folder + "-genai";
        string done = Path.Combine(folder, ".complete");
        string genAiDone = Path.Combine(genAi, ".complete");
        if (!File.Exists(done) || !File.Exists(genAiDone))
        {
            Console.WriteLine($"writing the seeded LFM2-350M-shaped folders to {folder} and {genAi} (once)…");
            var config = SeededLfm2.Lfm2_350M(Context) with { ProjectionFormat = ProjectionFormats.Int4, ProjectionBlockSize = BlockSize };
            var weights = SeededLfm2.Weights(config, Seed);
            SeededLfm2.WriteFolder(folder, config, weights);
            Generation.Families.Lfm2.GenAiFolderWriter.Write(genAi, config, weights, Path.Combine(folder, "tokenizer.json"));
            File.WriteAllText(done, "seeded LFM2-350M shapes, int4 projections\n");
            File.WriteAllText(genAiDone, "the same weights in ONNX Runtime GenAI's layout\n");
        }

        return (folder, genAi);
    }

    /// <summary>The seeded folder again with headFormat int4 (the same weights), written once.</summary>
    private static string EnsureInt4HeadFolder(string cacheDir, string folder)
    {
        string int4Head = folder + "-int4head";
        string done = Path.Combine(int4Head, ".complete");
        if (!File.Exists(done))
        {
            Console.WriteLine($"writing the seeded LFM2-350M-shaped folder with an int4 head to {int4Head} (once)…");
            var config = SeededLfm2.Lfm2_350M(Context) with { ProjectionFormat = ProjectionFormats.Int4, ProjectionBlockSize = BlockSize, HeadFormat = HeadFormats.Int4 };
            SeededLfm2.WriteFolder(int4Head, config, SeededLfm2.Weights(config, Seed));
            File.WriteAllText(done, "seeded LFM2-350M shapes, int4 projections and head\n");
        }

        return int4Head;
    }

    private static async Task<Figures> MeasureAsync(string publishDir, string folder, int threads, bool quick, int[] contexts)
    {
        string work = Directory.CreateTempSubdirectory("edgeruntime-bench-hybrid-").FullName;
        string configPath = Path.Combine(work, "edged.json");
        File.WriteAllText(configPath, $$"""
            { "modelDirectory": "{{work}}", "allowedModelRoots": [ "{{Path.GetDirectoryName(Path.GetFullPath(folder))}}" ],
              "generation": { "threads": {{threads}}, "sessions": 1, "maxBatch": 1, "contextLimit": {{Context}} } }
            """);
        int runs = quick ? 1 : 3;
        int decodeTokens = DecodeTokens(quick);
        var decode = new SortedDictionary<int, double>();
        var prefill = new List<double>();
        using var daemon = DaemonProcess.Start(Path.Combine(publishDir, "edged"), configPath, Path.Combine(work, "edged.sock"));
        await using var client = await EdgeClient.ConnectAsync(daemon.SocketPath);
        var info = await client.LoadAsync(Model, folder);
        await LlmBench.GenerateAsync(client, Model, LlmBench.Prompt(16), 8);
        foreach (int context in contexts)
        {
            var samples = new List<double>();
            for (int r = 0; r < runs; r++)
            {
                var run = await LlmBench.GenerateAsync(client, Model, LlmBench.Prompt(context - decodeTokens - 1), decodeTokens);
                samples.Add(run.Summary.DecodeTokensPerSecond);
            }

            decode[context] = Statistics.Median(samples);
            Console.WriteLine($"{Path.GetFileName(folder)}: decode at context {context}: {decode[context]:0.00} tok/s");
        }

        for (int r = 0; r < runs; r++)
        {
            prefill.Add((await LlmBench.GenerateAsync(client, Model, LlmBench.Prompt(256), 1)).Summary.PrefillTokensPerSecond);
        }

        Console.WriteLine($"{Path.GetFileName(folder)}: prefill {Statistics.Median(prefill):0.0} tok/s");
        return new Figures(decode, Statistics.Median(prefill), info.SessionStateBytes ?? 0, info.Layers ?? "?");
    }

    private sealed record Figures(SortedDictionary<int, double> DecodeByContext, double PrefillTokS, long SessionStateBytes, string Layers);
}
