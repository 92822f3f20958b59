using System.Globalization;
using System.Text.Json;
using EdgeRuntime.Generation.Folder;
using EdgeRuntime.TestModels.Language;
using EdgeRuntime.TestModels.Language.Checkpoints;
using EdgeRuntime.Tools;

namespace EdgeRuntime.Bench;

/// <summary>The peer's figures on the same weights and threads.</summary>
internal sealed record PeerFigures(IReadOnlyDictionary<int, double> DecodeByContext, double PrefillTokS, double Ttft128Ms, double Batch4TokS);

/// <summary>
/// bitnet.cpp, already built, run on a GGUF of the same seeded weights (<see cref="BitNetPeerGguf"/>: I2_S projections,
/// a Q8_0 embedding like our int8 one). The benchmark only runs binaries it is pointed at (--peer-bin: a folder with
/// llama-bench and llama-batched-bench and their shared libraries); it never fetches or builds the peer.
/// </summary>
internal static class LlmPeer
{
    public const string Name = "bitnet.cpp";

    public static string EnsureModel(string cacheDir, LanguageModelConfig config, int seed) =>
        BitNetPeerGguf.WriteCached(cacheDir, SeededBitNet.TwoBillion(config.ContextLength), seed, BitNetPeerGguf.EmbeddingType("q8_0"), Console.WriteLine);

    /// <param name="decodeTokens">Tokens decoded after each prompt, as our side decodes.</param>
    public static PeerFigures Measure(string peerBin, string gguf, int threads, int decodeTokens, bool quick)
    {
        string t = threads.ToString(CultureInfo.InvariantCulture);
        string repetitions = quick ? "1" : "3";

        // Prompt evaluation: llama-bench's own mean over repetitions.
        double prefill = LlamaBenchTokS(peerBin, ["-m", gguf, "-t", t, "-p", "256", "-n", "0", "-r", repetitions, "-o", "json"]);
        double prompt128 = LlamaBenchTokS(peerBin, ["-m", gguf, "-t", t, "-p", "128", "-n", "0", "-r", repetitions, "-o", "json"]);

        // Decode after a prompt, as ours: llama-batched-bench fills the context with a prompt, then generates.
        var decode = new SortedDictionary<int, double>();
        foreach (int context in new[] { 128, 1024 })
        {
            decode[context] = BatchedDecodeTokS(peerBin, gguf, t, context - decodeTokens, decodeTokens, sequences: 1);
            Console.WriteLine($"{Name}: decode at context {context}: {decode[context]:0.00} tok/s");
        }

        double batch4 = BatchedDecodeTokS(peerBin, gguf, t, 32, decodeTokens, sequences: 4);
        Console.WriteLine($"{Name}: prefill {prefill:0.0} tok/s, 4 sequences {batch4:0.0} tok/s aggregate");
        return new PeerFigures(decode, prefill, 128 / prompt128 * 1000, batch4);
    }

    private static double LlamaBenchTokS(string peerBin, string[] arguments)
    {
        using var json = JsonDocument.Parse(PeerProcess.Run(Path.Combine(peerBin, "llama-bench"), arguments, peerBin));
        return json.RootElement[0].GetProperty("avg_ts").GetDouble();
    }

    private static double BatchedDecodeTokS(string peerBin, string gguf, string threads, int prompt, int generate, int sequences)
    {
        string kv = ((prompt + generate) * sequences + 16).ToString(CultureInfo.InvariantCulture);
        string output = PeerProcess.Run(Path.Combine(peerBin, "llama-batched-bench"),
        [
            "-m", gguf, "-t", threads, "-tb", threads, "-c", kv, "-b", "2048", "-ub", "512",
            "-npp", prompt.ToString(CultureInfo.InvariantCulture), "-ntg", generate.ToString(CultureInfo.InvariantCulture),
            "-npl", sequences.ToString(CultureInfo.InvariantCulture), "--output-format", "jsonl",
        ], peerBin);
        string line = output.Split('\n').Last(l => l.TrimStart().StartsWith('{'));
        using var json = JsonDocument.Parse(line);
        return json.RootElement.GetProperty("speed_tg").GetDouble();
    }
}
