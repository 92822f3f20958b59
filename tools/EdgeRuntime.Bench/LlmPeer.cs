using EdgeRuntime.Generation.Folder;

namespace EdgeRuntime.Bench;

/// <summary>The peer's figures on the same weights and threads.</summary>
internal sealed record PeerFigures(IReadOnlyDictionary<int, double> DecodeByContext, double PrefillTokS, double? Ttft128Ms);

/// <summary>bitnet.cpp (built by build/Peer.psm1) run on a GGUF of the same seeded weights.</summary>
internal static class LlmPeer
{
    public const string Name = "bitnet.cpp";

    public static string EnsureModel(string cacheDir, LanguageModelConfig config, int seed) => throw new NotImplementedException("peer model: pending");

    public static PeerFigures Measure(string peerBin, string gguf, int threads, bool quick) => throw new NotImplementedException("peer: pending");
}
