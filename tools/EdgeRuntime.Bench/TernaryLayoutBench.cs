using System.Diagnostics;
using System.Globalization;
using EdgeRuntime.Generation.Engine;
using EdgeRuntime.Generation.Folder;
using EdgeRuntime.Kernels.Ternary;
using EdgeRuntime.Protocol;
using EdgeRuntime.TestModels.Language;

namespace EdgeRuntime.Bench;

/// <summary>
/// bench-llm's ternary-layout part (in process): the seeded 2B4T-shaped BitNet written twice, with 2-bit and with 1.6-bit
/// projections, each loaded in turn in the engine (two threads) and run greedily from the same prompt, alternating
/// layouts over the rounds. Reports decode speed, the weights file and the process's resident-memory growth while the
/// model is loaded, and fails if the two layouts produce different tokens (they compute the same integers).
/// </summary>
internal static class TernaryLayoutBench
{
    private const int Seed = 5;
    private const int Context = 256;
    private const string Prompt = "The quick brown fox";

    public static async Task<List<BenchResult>> RunAsync(string cacheDir, int threads, bool quick)
    {
        int tokens = quick ? 24 : 48;
        int rounds = quick ? 2 : 3;
        TernaryLayout[] layouts = [TernaryLayout.FourPerByte, TernaryLayout.FivePerByte];
        var folders = layouts.ToDictionary(l => l, l => EnsureFolder(cacheDir, l));
        var decode = layouts.ToDictionary(l => l, _ => new List<double>());
        var rss = layouts.ToDictionary(l => l, _ => new List<double>());
        var produced = new Dictionary<TernaryLayout, int[]>();
        for (int round = 0; round < rounds; round++)
        {
            // Alternate which layout goes first, so a drift in the machine's load falls on both.
            foreach (var layout in round % 2 == 0 ? layouts : [.. layouts.Reverse()])
            {
                var (tokS, grewMb, ids) = await GenerateAsync(folders[layout], threads, tokens);
                decode[layout].Add(tokS);
                rss[layout].Add(grewMb);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{Name(layout)}: {tokS:0.0} tok/s over {ids.Length} tokens, resident memory +{grewMb:0} MiB"));
                if (produced.TryGetValue(layout, out var earlier) && !earlier.SequenceEqual(ids))
                {
                    throw new InvalidOperationException($"{Name(layout)} generated different tokens in two rounds.");
                }

                produced[layout] = ids;
            }
        }

        if (!produced[TernaryLayout.FourPerByte].SequenceEqual(produced[TernaryLayout.FivePerByte]))
        {
            throw new InvalidOperationException("The 1.6-bit folder generated different tokens from the 2-bit one; they must compute the same integers.");
        }

        double twoTokS = Statistics.Median(decode[TernaryLayout.FourPerByte]), fiveTokS = Statistics.Median(decode[TernaryLayout.FivePerByte]);
        double twoRss = Statistics.Median(rss[TernaryLayout.FourPerByte]), fiveRss = Statistics.Median(rss[TernaryLayout.FivePerByte]);
        long twoBytes = LanguageModelFolder.Open(folders[TernaryLayout.FourPerByte]).Config.WeightsBytes;
        long fiveBytes = LanguageModelFolder.Open(folders[TernaryLayout.FivePerByte]).Config.WeightsBytes;
        string setup = $"seeded BitNet 2B4T shapes, int8 embedding, {threads} threads, {tokens} greedy tokens after \"{Prompt}\", median of {rounds} alternating rounds; the same {produced[TernaryLayout.FivePerByte].Length} tokens from both layouts";
        return
        [
            new("llm_ternary_1_6bit_decode_tok_s", fiveTokS, "tok/s", twoTokS, fiveTokS / twoTokS, $"{setup}; baseline: the 2-bit folder (ratio = 1.6-bit / 2-bit)"),
            new("llm_ternary_1_6bit_weights_mb", fiveBytes / 1e6, "MB", twoBytes / 1e6, (double)fiveBytes / twoBytes, "weights.bin of the 1.6-bit folder; baseline: the 2-bit folder's"),
            new("llm_ternary_1_6bit_rss_growth_mb", fiveRss, "MiB", twoRss, fiveRss / twoRss, $"VmRSS after generating minus before loading, in process; baseline: the 2-bit folder; {setup}"),
        ];
    }

    private static string Name(TernaryLayout layout) => layout == TernaryLayout.FivePerByte ? "1.6-bit" : "2-bit";

    private static string EnsureFolder(string cacheDir, TernaryLayout layout)
    {
        // v2: the 1.6-bit W is rank 3 ([rows, blocks, 32]); a folder cached before that is not measured by mistake.
        string folder = Path.Combine(cacheDir, $"bitnet2b4t-seed{Seed}-ctx{Context}-{EmbeddingFormats.Int8}-{Name(layout)}-v2");
        string done = Path.Combine(folder, ".complete");
        if (!File.Exists(done))
        {
            Console.WriteLine($"writing the seeded 2B4T-shaped folder with {Name(layout)} projections to {folder} (once)…");
            SeededBitNet.WriteFolder(folder, SeededBitNet.TwoBillion(Context), Seed, layout);
            File.WriteAllText(done, $"seeded BitNet b1.58 2B4T shapes, {Name(layout)} projections\n");
        }

        return folder;
    }

    private static async Task<(double TokS, double RssGrowthMb, int[] Ids)> GenerateAsync(string folder, int threads, int tokens)
    {
        GC.Collect();
        double before = RssMb();
        var ids = new List<int>();
        using var model = LanguageModel.Load("layout", folder, new GenerationOptions { IntraOpThreads = threads, Sessions = 1, MaxBatch = 1 });
        var run = model.Start(new GenerateRequest("layout") { Prompt = Prompt, MaxTokens = tokens });
        long first = 0, last = 0;
        await foreach (var token in run.Tokens.ReadAllAsync())
        {
            last = Stopwatch.GetTimestamp();
            if (ids.Count == 0)
            {
                first = last;
            }

            ids.Add(token.Id);
        }

        if (ids.Count < 2)
        {
            throw new InvalidOperationException($"The model stopped after {ids.Count} token(s); decode speed needs at least two.");
        }

        double tokS = (ids.Count - 1) / Stopwatch.GetElapsedTime(first, last).TotalSeconds;
        return (tokS, RssMb() - before, [.. ids]);
    }

    private static double RssMb()
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return double.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024;
            }
        }

        throw new InvalidOperationException("VmRSS not found in /proc/self/status.");
    }
}
