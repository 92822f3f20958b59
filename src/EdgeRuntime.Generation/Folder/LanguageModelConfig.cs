namespace EdgeRuntime.Generation.Folder;

/// <summary>
/// A language-model folder's <c>config.json</c> (docs/language-models.md): the family and its sizes, the special
/// tokens, the context length, and the files that make up the model. Family-specific sizes not every family has are
/// optional.
/// </summary>
public sealed record LanguageModelConfig
{
    /// <summary>Always "edgeruntime-lm": tells our folder apart from a Hugging Face checkpoint's config.json.</summary>
    public required string Format { get; init; }

    public required int FormatVersion { get; init; }

    /// <summary>The architecture: "bitnet" (BitNet b1.58) or "lfm2" (Liquid LFM2's hybrid of gated short convolutions and attention).</summary>
    public required string Family { get; init; }

    public required int VocabSize { get; init; }

    public required int HiddenSize { get; init; }

    public required int IntermediateSize { get; init; }

    public required int Layers { get; init; }

    public required int AttentionHeads { get; init; }

    public required int KvHeads { get; init; }

    public required int HeadDim { get; init; }

    public required double RopeTheta { get; init; }

    public required double RmsNormEps { get; init; }

    /// <summary>
    /// Each layer's mixer, <see cref="LayerKinds.Attention"/> or <see cref="LayerKinds.Conv"/>; absent means every layer
    /// is attention. Only attention layers have a KV cache; conv layers keep <see cref="ConvKernel"/> − 1 columns of state.
    /// </summary>
    public string[]? LayerTypes { get; init; }

    /// <summary>The conv layers' kernel width (LFM2: 3); needed when any layer is a conv layer.</summary>
    public int? ConvKernel { get; init; }

    /// <summary>Positions the model was trained for; the most a session's cache can hold.</summary>
    public required int ContextLength { get; init; }

    public int? BosTokenId { get; init; }

    /// <summary>Token ids that end a generation (end of text, end of turn).</summary>
    public int[] EosTokenIds { get; init; } = [];

    /// <summary>The chat template's name ("bitnet", "llama3", "chatml"); null when the model is not a chat model.</summary>
    public string? ChatTemplate { get; init; }

    /// <summary>
    /// How the token embedding (also the tied output head) is stored: <see cref="EmbeddingFormats.Int8"/> (int8 rows
    /// with a float scale each, a quarter of the bytes) or <see cref="EmbeddingFormats.Float32"/>; absent means float32.
    /// </summary>
    public string EmbeddingFormat { get; init; } = EmbeddingFormats.Float32;

    /// <summary>
    /// How the projections of a float family (LFM2) are stored: <see cref="ProjectionFormats.Int4"/> with
    /// <see cref="ProjectionBlockSize"/>, or absent (null) for float32, which is also what "float32" says. BitNet's are
    /// always ternary. (Absent rather than a default value: the source-generated reader does not apply initializers.)
    /// </summary>
    public string? ProjectionFormat { get; init; }

    /// <summary>The projections' format with absent read as float32.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string Projections => ProjectionFormat ?? ProjectionFormats.Float32;

    /// <summary>With int4 or QDQ projections, the weights a scale covers along the input (16 to 256, a power of two).</summary>
    public int? ProjectionBlockSize { get; init; }

    /// <summary>
    /// How an LFM2 folder's output head is computed: absent (null) reads the tied embedding table as it is stored (the
    /// int8 rows or float32); <see cref="HeadFormats.Int4"/> adds a MatMulNBits copy of the table in 4-bit blocks of
    /// <c>projectionBlockSize</c> (32 when absent) for the head alone, as ONNX Runtime GenAI's INT4 models have: fewer
    /// bytes read a decoded token, a second copy of the table kept.
    /// </summary>
    public string? HeadFormat { get; init; }

    /// <summary>
    /// Present for a static-shape folder (an NPU export): its fixed prefill chunk and cache length and its two graphs,
    /// which take the place of <see cref="Graph"/>.
    /// </summary>
    public StaticShapes? Static { get; init; }

    /// <summary>Present when the attention layers use DeltaAttention (temporal sparsity) instead of GroupQueryAttention.</summary>
    public DeltaAttentionSettings? DeltaAttention { get; init; }

    /// <summary>
    /// Present for a vision-language folder: the image encoder whose embeddings go before a new session's first token.
    /// The decoder graph then has a <c>prefix_embeds</c> input.
    /// </summary>
    public VisionSettings? Vision { get; init; }

    /// <summary>The ONNX decoder graph, relative to the folder.</summary>
    public string Graph { get; init; } = "model.onnx";

    /// <summary>The external weight data the graph refers to, relative to the folder.</summary>
    public string Weights { get; init; } = "weights.bin";

    /// <summary>The Hugging Face tokenizer.json, relative to the folder.</summary>
    public string Tokenizer { get; init; } = "tokenizer.json";

    /// <summary>The exact size of the weights file: a truncated copy is refused at load.</summary>
    public required long WeightsBytes { get; init; }

    /// <summary>XxHash3 of the weights file (hex), checked at load when present: a corrupt copy is refused.</summary>
    public string? WeightsXxHash3 { get; init; }

    /// <summary>Where the weights came from (an importer's note, "seeded", a training run).</summary>
    public string? Source { get; init; }

    public const string FormatName = "edgeruntime-lm";

    public const int CurrentFormatVersion = 1;
}
