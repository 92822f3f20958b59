namespace EdgeRuntime.Generation.Folder;

/// <summary>
/// The mixers a decoder layer can have (config.json's <c>layerTypes</c>) and which layers of a configuration have which.
/// The engine allocates a KV cache only for attention layers and a conv state only for conv layers.
/// </summary>
public static class LayerKinds
{
    /// <summary>Grouped-query attention over a KV cache that grows with the session.</summary>
    public const string Attention = "attention";

    /// <summary>LFM2's gated short convolution: a fixed state of (kernel − 1) columns, whatever the session's length.</summary>
    public const string Conv = "conv";

    public static IReadOnlyList<string> All { get; } = [Attention, Conv];

    /// <summary>The kind of layer <paramref name="layer"/>: attention unless the configuration says otherwise.</summary>
    public static string Of(LanguageModelConfig config, int layer) => config.LayerTypes is { } types ? types[layer] : Attention;

    /// <summary>The indices of the layers of <paramref name="kind"/>, in order.</summary>
    public static int[] Layers(LanguageModelConfig config, string kind) =>
        [.. Enumerable.Range(0, config.Layers).Where(l => Of(config, l) == kind)];
}
