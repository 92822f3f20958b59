namespace EdgeRuntime.Generation.Folder;

/// <summary>
/// A vision-language folder's image side (config.json's <c>vision</c>): an encoder graph that turns one image into
/// <see cref="ImageTokens"/> embeddings of the decoder's width, which go before a session's first prompt token
/// (docs/language-models.md). The encoder graph holds its own weights; it is small next to the decoder's.
/// </summary>
public sealed record VisionSettings
{
    /// <summary>The encoder graph, relative to the folder: float32 <c>pixel_values</c> [1, channels, height, width] in [0, 1] → <c>image_embeds</c> [1, imageTokens, hidden].</summary>
    public string Graph { get; init; } = "vision.onnx";

    public required int ImageHeight { get; init; }

    public required int ImageWidth { get; init; }

    /// <summary>Colour planes the encoder reads (1: grey).</summary>
    public required int Channels { get; init; }

    /// <summary>Embeddings one image becomes: positions it takes in the session, like as many tokens.</summary>
    public required int ImageTokens { get; init; }

    /// <summary>How the encoder is stored: <see cref="VisionFormats.W8A16"/> (QDQ) or absent for float32.</summary>
    public string? Quantization { get; init; }
}

/// <summary>The forms of a vision encoder graph.</summary>
public static class VisionFormats
{
    public const string Float32 = "float32";

    /// <summary>QDQ: int8 weights (one scale per output channel), int32 biases, uint16 activations: the form QNN's HTP runs in integers.</summary>
    public const string W8A16 = "w8a16";

    public static readonly string[] All = [Float32, W8A16];
}
