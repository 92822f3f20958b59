using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using EdgeRuntime.Client;
using EdgeRuntime.Generation.Folder;
using EdgeRuntime.Protocol;
using EdgeRuntime.TestModels.Language;
using EdgeRuntime.Tools;

namespace EdgeRuntime.Bench;

/// <summary>
/// build.ps1 bench-llm: BitNet b1.58 2B4T's shapes with seeded ternary weights, served by the published edged over its
/// socket, against the peer (bitnet.cpp, <see cref="LlmPeer"/>) on the same weights and threads in the same run.
/// Writes artifacts/bench/llm.json. Our figures come from the summaries edged sends (its own clocks), the stream
/// overhead from the client's clock against the token's production time.
/// </summary>
internal static class LlmBench
{
    private const int Threads = 2;
    private const int Seed = 5;
    private const int Context = 2048;
    private const string Model = "bitnet2b";

    public static async Task<int> RunAsync(string publishDir, string cacheDir, string outDir, string? peerBin, bool quick, string? genAiPeer = null, bool hybridOnly = false, string? repositoryRoot = null, bool deltaOnly = false, bool vlmOnly = false, bool layoutOnly = false)
    {
        var results = new List<BenchResult>();
        if (layoutOnly)
        {
            results.AddRange(await TernaryLayoutBench.RunAsync(cacheDir, Threads, quick));
            return await WriteAsync(results, outDir);
        }

        if (vlmOnly)
        {
            results.AddRange(await VlmBench.RunAsync(RepositoryRoot(repositoryRoot), Threads, quick));
            return await WriteAsync(results, outDir);
        }

        if (deltaOnly)
        {
            results.AddRange(DeltaBench.Run(RepositoryRoot(repositoryRoot), cacheDir, Threads, quick));
            return await WriteAsync(results, outDir);
        }

        if (hybridOnly)
        {
            results.AddRange(await HybridBench.RunAsync(publishDir, cacheDir, Threads, quick, genAiPeer));
            return await WriteAsync(results, outDir);
        }

        string folder = EnsureModelFolder(cacheDir);
        var config = LanguageModelFolder.Open(folder).Config;
        double bandwidth = StreamingRead.GigabytesPerSecond(Threads, quick ? 256 : 1024);
        Console.WriteLine($"model: {folder} ({config.WeightsBytes / 1e6:0} MB of weights, embedding {config.EmbeddingFormat}); streaming read, {Threads} threads: {bandwidth:0.0} GB/s");
        results.Add(new("memory_read_bandwidth_gbs", bandwidth, "GB/s", null, null, $"{Threads} threads, four 32-byte loads per step over a buffer past the caches, best of 5"));

        var ours = await MeasureOursAsync(publishDir, folder, config, quick);
        PeerFigures? peer = null;
        if (peerBin is null)
        {
            Console.WriteLine($"no --peer-bin: {LlmPeer.Name} is not measured; the ratios are left out");
        }
        else
        {
            peer = LlmPeer.Measure(Path.GetFullPath(peerBin), EnsurePeerModel(cacheDir, config), Threads, DecodeTokens(quick), quick);
        }


        int runs = quick ? 1 : 3;
        foreach (var (context, tokS) in ours.DecodeByContext)
        {
            double? theirs = peer?.DecodeByContext.GetValueOrDefault(context);
            results.Add(new($"llm_decode_tok_s_ctx{context}", tokS, "tok/s", theirs, theirs is { } t ? tokS / t : null, $"one session, {DecodeTokens(quick)} greedy tokens after a {context - DecodeTokens(quick)}-token prompt, median of {runs}; baseline: {LlmPeer.Name} same weights, {Threads} threads"));
            if (theirs is { } p)
            {
                results.Add(new($"llm_decode_tok_s_vs_bitnetcpp_ctx{context}", tokS / p, "x", 1.0, tokS / p, "target >= 1.0"));
            }
        }

        double? peerPrefill = peer?.PrefillTokS;
        results.Add(new("llm_prefill_tok_s", ours.PrefillTokS, "tok/s", peerPrefill, peerPrefill is { } pp ? ours.PrefillTokS / pp : null, $"256-token prompt, median of {runs}; baseline: {LlmPeer.Name}"));
        if (peerPrefill is { } prefillPeer)
        {
            results.Add(new("llm_prefill_tok_s_vs_bitnetcpp", ours.PrefillTokS / prefillPeer, "x", 1.0, ours.PrefillTokS / prefillPeer, "target >= 1.0"));
        }

        // Bytes one decode step reads: every weight (the head reads the whole table) plus the cache up to the context.
        var decode128 = ours.DecodeByContext[128];
        double bytesPerToken = config.WeightsBytes + KvBytesPerPosition(config) * 128.0;
        double pct = bytesPerToken * decode128 / 1e9 / bandwidth * 100;
        results.Add(new("llm_decode_bandwidth_pct", pct, "%", 75, pct / 75, $"{bytesPerToken / 1e6:0} MB per token (weights + KV at context 128) x {decode128:0.0} tok/s / {bandwidth:0.0} GB/s; target >= 75"));
        results.Add(new("llm_batch4_decode_speedup", ours.Batch4Speedup, "x", 2.5, ours.Batch4Speedup / 2.5, $"4 concurrent sessions' aggregate decode tok/s ({ours.Batch4TokS:0.0}) / one session's ({ours.SingleTokS:0.0}); target >= 2.5"));
        if (peer is not null)
        {
            results.Add(new("llm_batch4_decode_tok_s", ours.Batch4TokS, "tok/s", peer.Batch4TokS, ours.Batch4TokS / peer.Batch4TokS, $"4 sessions' aggregate; baseline: {LlmPeer.Name} llama-batched-bench, 4 sequences of a 32-token prompt"));
        }

        results.Add(new("llm_rss_over_weights", ours.RssOverWeights, "x", 1.15, ours.RssOverWeights / 1.15, $"edged VmRSS {ours.RssMb:0} MiB / (weights {config.WeightsBytes / 1048576.0:0} MiB + KV of the positions held {ours.KvHeldMb:0} MiB), after the 4-session run; target <= 1.15"));
        results.Add(new("llm_stream_overhead_us_p50", ours.StreamOverheadP50Us, "us", 100, ours.StreamOverheadP50Us / 100, $"the token's arrival in the client's await foreach - its sampling in edged, both on CLOCK_MONOTONIC (clockUs), p50 of {ours.StreamSamples} tokens; p99 {ours.StreamOverheadP99Us:0} us; target <= 100"));
        results.Add(new("llm_ttft_ms", ours.TtftMs, "ms", peer?.Ttft128Ms, peer is not null ? peer.Ttft128Ms / ours.TtftMs : null, $"128-token prompt to the first token at the client, median of {runs}; baseline: {LlmPeer.Name}'s 128-token prompt evaluation"));
        results.Add(new("llm_decode_tok_s", decode128, "tok/s", null, null, "one session at context 128"));

        results.AddRange(await HybridBench.RunAsync(publishDir, cacheDir, Threads, quick, genAiPeer));
        results.AddRange(DeltaBench.Run(RepositoryRoot(repositoryRoot), cacheDir, Threads, quick));
        results.AddRange(await VlmBench.RunAsync(RepositoryRoot(repositoryRoot), Threads, quick));
        return await WriteAsync(results, outDir);
    }

    /// <summary>The repository the trained checkpoints are read from: --repo, else the folder above that holds EdgeRuntime.sln.</summary>
    private static string RepositoryRoot(string? given)
    {
        if (given is not null)
        {
            return given;
        }

        for (var folder = new DirectoryInfo(Directory.GetCurrentDirectory()); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "EdgeRuntime.sln")))
            {
                return folder.FullName;
            }
        }

        throw new ArgumentException("Run from inside the repository or give --repo DIR: the DeltaAttention figures read tools/bitnet and tools/lfm2.");
    }

    /// <summary>Writes the figures into llm.json, replacing those of the same name and keeping the rest (a part run alone updates its own).</summary>
    private static async Task<int> WriteAsync(List<BenchResult> results, string outDir)
    {
        Directory.CreateDirectory(outDir);
        string path = Path.Combine(outDir, "llm.json");
        var kept = File.Exists(path) ? JsonSerializer.Deserialize(await File.ReadAllTextAsync(path), BenchJsonContext.Default.ListBenchResult) ?? [] : [];
        var names = results.Select(r => r.Name).ToHashSet(StringComparer.Ordinal);
        var merged = kept.Where(r => !names.Contains(r.Name)).Concat(results).ToList();
        await File.WriteAllTextAsync(path, JsonSerializer.Serialize(merged, BenchJsonContext.Default.ListBenchResult));
        foreach (var r in results)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{r.Name,-40} {r.Value,10:0.###} {r.Unit,-6} {(r.Baseline is { } b ? $"baseline {b:0.###}" : string.Empty)} {(r.Ratio is { } q ? $"ratio {q:0.###}" : string.Empty)}"));
        }

        Console.WriteLine($"wrote {path}");
        return 0;
    }

    private static int DecodeTokens(bool quick) => quick ? 32 : 64;

    /// <summary>KV cache bytes one position takes: keys and values, every layer, float32.</summary>
    private static long KvBytesPerPosition(LanguageModelConfig c) => 2L * c.Layers * c.KvHeads * c.HeadDim * sizeof(float);

    /// <summary>The seeded 2B folder, written once (about a minute) and kept outside the repository.</summary>
    private static string EnsureModelFolder(string cacheDir)
    {
        // The name says what the folder holds and which graph builder made it (v2: stacked q/k/v and gate/up), so a
        // cached folder from an older builder is not measured by mistake.
        string folder = Path.Combine(cacheDir, $"bitnet2b4t-seed{Seed}-ctx{Context}-{EmbeddingFormats.Int8}-v2");
        string done = Path.Combine(folder, ".complete");
        if (!File.Exists(done))
        {
            Console.WriteLine($"writing the seeded 2B4T-shaped folder to {folder} (once)…");
            SeededBitNet.WriteFolder(folder, SeededBitNet.TwoBillion(Context), Seed);
            File.WriteAllText(done, "seeded BitNet b1.58 2B4T shapes\n");
        }

        return folder;
    }

    private static string EnsurePeerModel(string cacheDir, LanguageModelConfig config) => LlmPeer.EnsureModel(cacheDir, config, Seed);

    private static async Task<OurFigures> MeasureOursAsync(string publishDir, string folder, LanguageModelConfig config, bool quick)
    {
        string work = Directory.CreateTempSubdirectory("edgeruntime-bench-llm-").FullName;
        string configPath = Path.Combine(work, "edged.json");
        File.WriteAllText(configPath, $$"""
            { "modelDirectory": "{{work}}", "allowedModelRoots": [ "{{Path.GetDirectoryName(Path.GetFullPath(folder))}}" ],
              "generation": { "threads": {{Threads}}, "sessions": 4, "maxBatch": 4, "contextLimit": {{Context}} } }
            """);
        int runs = quick ? 1 : 3;
        int decodeTokens = DecodeTokens(quick);
        var decode = new SortedDictionary<int, double>();
        var overhead = new List<double>();
        var prefill = new List<double>();
        var ttft = new List<double>();
        using (var daemon = DaemonProcess.Start(Path.Combine(publishDir, "edged"), configPath, Path.Combine(work, "edged.sock")))
        {
            await using var client = await EdgeClient.ConnectAsync(daemon.SocketPath);
            await client.LoadAsync(Model, folder);

            // Warm-up: pages the mapped weights in, so no figure pays for the first read from disk.
            await GenerateAsync(client, Prompt(16), 8);
            foreach (int context in new[] { 128, 1024 })
            {
                var samples = new List<double>();
                for (int r = 0; r < runs; r++)
                {
                    var run = await GenerateAsync(client, Prompt(context - decodeTokens), decodeTokens);
                    samples.Add(run.Summary.DecodeTokensPerSecond);
                    overhead.AddRange(run.OverheadUs);
                }

                decode[context] = Statistics.Median(samples);
                Console.WriteLine($"decode at context {context}: {decode[context]:0.00} tok/s");
            }

            for (int r = 0; r < runs; r++)
            {
                prefill.Add((await GenerateAsync(client, Prompt(256), 1)).Summary.PrefillTokensPerSecond);
                ttft.Add((await GenerateAsync(client, Prompt(128), 1)).ClientTtftMs);
            }
        }

        // Batching and memory in a daemon of their own, so its caches hold only the positions counted below.
        using var fresh = DaemonProcess.Start(Path.Combine(publishDir, "edged"), configPath, Path.Combine(work, "batch.sock"));
        await using var batchClient = await EdgeClient.ConnectAsync(fresh.SocketPath);
        await batchClient.LoadAsync(Model, folder);
        await GenerateAsync(batchClient, Prompt(16), 8);

        // One session, then four at once, each decoding the same number of tokens from a short prompt.
        double single = (await GenerateAsync(batchClient, Prompt(32), decodeTokens)).Summary.DecodeTokensPerSecond;
        var four = await Task.WhenAll(Enumerable.Range(0, 4).Select(i => GenerateAsync(batchClient, Prompt(32 + i), decodeTokens)));

        // The aggregate rate over the span in which all four were decoding: from the last first token to the first end.
        double spanStart = four.Max(f => f.FirstTokenAtMs);
        double spanEnd = four.Min(f => f.EndAtMs);
        int tokensInSpan = four.Sum(f => f.TokenTimesMs.Count(t => t > spanStart && t <= spanEnd));
        double aggregate = tokensInSpan / ((spanEnd - spanStart) / 1000);
        double rssMb = fresh.RssMb();

        // Slot i last held four[i]'s positions, the most any run put there (the warm-up and single run used slot 0).
        double kvHeldMb = four.Sum(f => (double)f.Summary.PromptTokens + f.Summary.GeneratedTokens) * KvBytesPerPosition(config) / 1048576.0;
        Console.WriteLine($"batch: one session {single:0.0} tok/s, four {aggregate:0.0} tok/s aggregate; RSS {rssMb:0} MiB");

        overhead.Sort();
        return new OurFigures
        {
            DecodeByContext = decode,
            PrefillTokS = Statistics.Median(prefill),
            TtftMs = Statistics.Median(ttft),
            SingleTokS = single,
            Batch4TokS = aggregate,
            RssMb = rssMb,
            KvHeldMb = kvHeldMb,
            RssOverWeights = rssMb / ((config.WeightsBytes / 1048576.0) + kvHeldMb),
            StreamOverheadP50Us = overhead[overhead.Count / 2],
            StreamOverheadP99Us = overhead[Math.Min(overhead.Count - 1, overhead.Count * 99 / 100)],
            StreamSamples = overhead.Count,
        };
    }

    /// <summary>
    /// A prompt of exactly <paramref name="tokens"/> tokens after BOS: the seeded folder's tokenizer has one token per
    /// byte, so that many ASCII letters.
    /// </summary>
    internal static string Prompt(int tokens) => string.Create(tokens, 0, (span, _) =>
    {
        for (int i = 0; i < span.Length; i++)
        {
            span[i] = (char)('a' + (i * 7 % 26));
        }
    });

    private static double NowMs() => Stopwatch.GetTimestamp() * 1000.0 / Stopwatch.Frequency;

    private static Task<RunRecord> GenerateAsync(EdgeClient client, string prompt, int maxTokens) => GenerateAsync(client, Model, prompt, maxTokens);

    /// <summary>One greedy generation of <paramref name="model"/> as the client sees it.</summary>
    internal static async Task<RunRecord> GenerateAsync(EdgeClient client, string model, string prompt, int maxTokens)
    {
        double sentMs = NowMs();
        await using var stream = await client.GenerateAsync(new GenerateRequest(model)
        {
            Prompt = prompt,
            MaxTokens = maxTokens,
            Sampling = new SamplingSpec { Temperature = 0 },
        });
        var times = new List<double>();
        var overhead = new List<double>();
        await foreach (var token in stream)
        {
            double atMs = NowMs();
            times.Add(atMs);

            // edged stamps each token with the machine's monotonic clock when it was sampled; this process reads the
            // same clock, so the difference is the token's trip: channel, frame, socket, client, enumeration.
            overhead.Add((atMs * 1000) - (token.ClockUs ?? double.NaN));
        }

        var summary = await stream.Summary;
        return new RunRecord(summary, sentMs, times, overhead, NowMs());
    }

    /// <summary>One generation as the client saw it; times in ms on the process-wide monotonic clock.</summary>
    internal sealed record RunRecord(GenerateResponse Summary, double SentAtMs, List<double> TokenTimesMs, List<double> OverheadUs, double EndAtMs)
    {
        public double ClientTtftMs => TokenTimesMs.Count > 0 ? TokenTimesMs[0] - SentAtMs : double.NaN;

        public double FirstTokenAtMs => TokenTimesMs.Count > 0 ? TokenTimesMs[0] : double.NaN;
    }

    private sealed record OurFigures
    {
        public required SortedDictionary<int, double> DecodeByContext { get; init; }

        public required double PrefillTokS { get; init; }

        public required double TtftMs { get; init; }

        public required double SingleTokS { get; init; }

        public required double Batch4TokS { get; init; }

        public double Batch4Speedup => Batch4TokS / SingleTokS;

        public required double RssMb { get; init; }

        public required double KvHeldMb { get; init; }

        public required double RssOverWeights { get; init; }

        public required double StreamOverheadP50Us { get; init; }

        public required double StreamOverheadP99Us { get; init; }

        public required int StreamSamples { get; init; }
    }
}
