using EdgeRuntime.Generation.Families.BitNet;
using EdgeRuntime.Generation.Folder;

namespace EdgeRuntime.Conversion.Import;

/// <summary>The two forms BitNet b1.58 checkpoints are downloaded in.</summary>
public enum CheckpointForm
{
    /// <summary>A Hugging Face folder: config.json, model.safetensors (or shards and their index), tokenizer.json.</summary>
    HuggingFace,

    /// <summary>bitnet.cpp's GGUF file with I2_S ternary weights.</summary>
    Gguf,
}

/// <summary>What the user can set on an import.</summary>
public sealed record ImportOptions
{
    /// <summary>A tokenizer.json to use instead of the checkpoint's own (or, for a GGUF, instead of its vocabulary).</summary>
    public string? TokenizerPath { get; init; }

    /// <summary>Positions the folder is made for; at most the trained context. Null keeps the trained context.</summary>
    public int? ContextLength { get; init; }

    /// <summary>The chat template's name (bitnet, llama3, chatml) or "none"; null recognises the checkpoint's own.</summary>
    public string? ChatTemplate { get; init; }

    /// <summary>How the folder stores the token embedding and tied head (<see cref="EmbeddingFormats"/>).</summary>
    public string EmbeddingFormat { get; init; } = EmbeddingFormats.Int8;

    /// <summary>How an LFM2 folder stores its projections (<see cref="ProjectionFormats"/>); BitNet takes float32 only (its own are ternary).</summary>
    public string ProjectionFormat { get; init; } = ProjectionFormats.Float32;

    /// <summary>With int4 or QDQ projections, the block size.</summary>
    public int ProjectionBlockSize { get; init; } = 32;

    /// <summary>
    /// Tokens the prefill graph of a static-shape (NPU) export takes per run; null writes the usual dynamic graph.
    /// An LFM2 folder only.
    /// </summary>
    public int? StaticChunk { get; init; }

    /// <summary>With <see cref="StaticChunk"/>: the fixed cache length; null takes the folder's context.</summary>
    public int? StaticCapacity { get; init; }

    /// <summary>With QDQ projections: a UTF-8 text file whose tokens calibrate the activation ranges.</summary>
    public string? CalibrationText { get; init; }

    /// <summary>An LFM2 folder's head: null reads the tied table as stored; "int4" adds a 4-bit copy for the head (<see cref="HeadFormats"/>).</summary>
    public string? HeadFormat { get; init; }

    /// <summary>Attention with temporal sparsity (DeltaAttention) instead of GroupQueryAttention; null for dense.</summary>
    public DeltaAttentionSettings? DeltaAttention { get; init; }

    /// <summary>A vision-language checkpoint's encoder form (<see cref="VisionFormats"/>): W8A16 QDQ by default, or float32.</summary>
    public string VisionFormat { get; init; } = VisionFormats.W8A16;

    /// <summary>An IDX file of uint8 images (.gz allowed) to calibrate a W8A16 encoder on; null uses the checkpoint's own.</summary>
    public string? CalibrationImages { get; init; }

    /// <summary>
    /// How a BitNet folder stores its ternary projections: 2 bits a weight, or five weights a byte (1.6 bits). Null (not
    /// given) is 2 bits for BitNet; any value given for a checkpoint without ternary projections is refused.
    /// </summary>
    public Kernels.Ternary.TernaryLayout? TernaryLayout { get; init; }
}

/// <summary>
/// A checkpoint read into our BitNet representation, ready for <see cref="BitNetFolderWriter"/>: the configuration
/// (its file fields not yet filled), the weights, and where the tokenizer comes from.
/// </summary>
public sealed record ImportedBitNet
{
    public required CheckpointForm Form { get; init; }

    public required LanguageModelConfig Config { get; init; }

    public required BitNetWeights Weights { get; init; }

    /// <summary>A tokenizer.json to copy into the folder; null when <see cref="GeneratedTokenizer"/> is set.</summary>
    public string? TokenizerPath { get; init; }

    /// <summary>A tokenizer.json written from the checkpoint's own vocabulary (a GGUF's tokenizer.ggml.* keys).</summary>
    public byte[]? GeneratedTokenizer { get; init; }

    /// <summary>How the tokenizer was obtained, for the report.</summary>
    public required string TokenizerNote { get; init; }

    /// <summary>What β is, for the report ("weight_scale multiplies (autobitlinear)", "I2_S scale").</summary>
    public required string ScaleNote { get; init; }

    public required int InputFiles { get; init; }

    public required long InputBytes { get; init; }
}

/// <summary>An LFM2 checkpoint read into our representation, ready for <see cref="Generation.Families.Lfm2.Lfm2FolderWriter"/>.</summary>
public sealed record ImportedLfm2
{
    public required LanguageModelConfig Config { get; init; }

    public required Generation.Families.Lfm2.Lfm2Weights Weights { get; init; }

    /// <summary>The tokenizer.json to copy into the folder.</summary>
    public required string TokenizerPath { get; init; }

    /// <summary>How the tokenizer was obtained, for the report.</summary>
    public required string TokenizerNote { get; init; }

    public required int InputFiles { get; init; }

    public required long InputBytes { get; init; }

    /// <summary>A vision-language checkpoint's encoder and connector (Config.Vision describes them); null for text only.</summary>
    public Generation.Families.Vision.VisionWeights? VisionWeights { get; init; }

    /// <summary>Images to calibrate a W8A16 encoder on: --calibration-images, or the checkpoint's own file.</summary>
    public string? CalibrationImages { get; init; }
}

/// <summary>edge-convert import's report: the model's sizes, the bytes in and out, and the time taken.</summary>
public sealed record ImportReport(
    string Input,
    string Output,
    string Form,
    string Family,
    int Layers,
    int HiddenSize,
    int IntermediateSize,
    int AttentionHeads,
    int KvHeads,
    int HeadDim,
    int VocabSize,
    int ContextLength,
    int Projections,
    long ProjectionWeights,
    string ProjectionFormat,
    string? Mixers,
    int InputFiles,
    long InputBytes,
    long WeightsBytes,
    string? Scale,
    string Tokenizer,
    string? ChatTemplate,
    string EmbeddingFormat,
    double Seconds)
{
    /// <summary>With quantized projections: each one's weight SQNR (dB) against the checkpoint's float weights.</summary>
    public Generation.Families.ProjectionError[]? ProjectionErrors { get; init; }

    /// <summary>With quantized projections: the logits' SQNR (dB) against the float model's over <see cref="LogitsTokens"/> positions.</summary>
    public double? LogitsSqnrDb { get; init; }

    /// <summary>The positions the logits were compared at: the float model's own greedy continuation of its first token.</summary>
    public int? LogitsTokens { get; init; }

    /// <summary>At how many of those positions the quantized model's most likely token is the float model's.</summary>
    public int? LogitsSameArgMax { get; init; }

    /// <summary>For a vision-language checkpoint: the encoder's form, and for W8A16 its embeddings' SQNR and each layer's weight SQNR.</summary>
    public Generation.Families.Vision.VisionEncoderWriter.Report? Vision { get; init; }

    /// <summary>For a vision-language checkpoint: what the QNN fitness check says of the encoder graph ("accepted" or why not).</summary>
    public string? VisionHtpCheck { get; init; }

    /// <summary>For a static-shape export: its prefill chunk and cache length.</summary>
    public Generation.Folder.StaticShapes? Static { get; init; }

    /// <summary>
    /// For a static-shape export: what our QNN fitness check says of its graphs, "accepted" or each rejected graph's
    /// reasons (nothing here runs QNN; the check is what says whether the HTP would take them whole).
    /// </summary>
    public string? HtpCheck { get; init; }

    /// <summary>With QDQ projections: how many tokens of the calibration text set the activation ranges.</summary>
    public int? CalibrationTokens { get; init; }
}
