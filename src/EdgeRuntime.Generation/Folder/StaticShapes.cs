namespace EdgeRuntime.Generation.Folder;

/// <summary>
/// A static-shape folder's graphs (config.json's <c>static</c>), written for NPUs that compile a graph for fixed shapes
/// (QNN's HTP): a prefill graph that takes <see cref="PrefillChunk"/> tokens at a time and a decode graph that takes one,
/// both over a cache of exactly <see cref="Capacity"/> positions. The same nodes and the same weights file; only the
/// token count differs. docs/language-models.md describes their inputs and outputs.
/// </summary>
public sealed record StaticShapes
{
    /// <summary>Tokens the prefill graph takes per run; a shorter last chunk is padded and its padding ignored.</summary>
    public required int PrefillChunk { get; init; }

    /// <summary>Positions a session holds: the cache inputs' fixed length, and so the most tokens a session can have.</summary>
    public required int Capacity { get; init; }

    /// <summary>The prefill graph, relative to the folder.</summary>
    public string PrefillGraph { get; init; } = "prefill.onnx";

    /// <summary>The one-token decode graph, relative to the folder.</summary>
    public string DecodeGraph { get; init; } = "decode.onnx";
}
