using System.Globalization;
using EdgeRuntime.TestModels.Language;
using EdgeRuntime.TestModels.Language.Checkpoints;

namespace EdgeRuntime.Bench;

/// <summary>
/// --peer-gguf [--embedding q8_0|f16|f32] [--seed N] [--context N] [--cache DIR]: writes (once; later runs find it
/// cached) the GGUF of the seeded BitNet b1.58 2B4T-shaped model that bitnet.cpp loads, and prints its path last.
/// </summary>
internal static class PeerGgufCommand
{
    public static int Run(IReadOnlyDictionary<string, string> options)
    {
        string Option(string name, string fallback) => options.TryGetValue(name, out string? value) ? value : fallback;
        int seed = int.Parse(Option("--seed", "5"), CultureInfo.InvariantCulture);
        int context = int.Parse(Option("--context", "2048"), CultureInfo.InvariantCulture);
        uint embedding = BitNetPeerGguf.EmbeddingType(Option("--embedding", "q8_0"));
        string cache = Path.GetFullPath(Option("--cache", BitNetPeerGguf.DefaultCacheFolder));
        string path = BitNetPeerGguf.WriteCached(cache, SeededBitNet.TwoBillion(context), seed, embedding, message => Console.Error.WriteLine(message));
        Console.WriteLine(path);
        return 0;
    }
}
