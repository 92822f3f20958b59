using EdgeRuntime.Generation.Families.Lfm2;
using EdgeRuntime.Generation.Families.Vision;
using EdgeRuntime.Generation.Folder;
using EdgeRuntime.TestModels.Language;

namespace EdgeRuntime.Generation.Tests.Vision;

/// <summary>A tiny vision-language folder from seeded weights: the tiny LFM2 with a float32 embedding, and a small encoder.</summary>
internal static class SeededVisionModel
{
    public const int Side = 12;
    public const int Tokens = 4;

    public static VisionSettings Settings(string? quantization = null) => new()
    {
        ImageHeight = Side,
        ImageWidth = Side,
        Channels = 1,
        ImageTokens = Tokens,
        Quantization = quantization,
    };

    /// <summary>Stem 3×3/2 (12 → 6), depthwise, pointwise, then a 3×3/3 pool: 2 × 2 tokens.</summary>
    public static VisionWeights Encoder(int hidden, int seed = 11)
    {
        var random = new Random(seed);
        float[] Values(int count, double scale) => [.. Enumerable.Range(0, count).Select(_ => (float)((random.NextDouble() * 2 - 1) * scale))];
        VisionConvLayer[] layers =
        [
            new(VisionLayerKinds.Conv, 1, 8, 2, Values(8 * 9, 0.5), Values(8, 0.1)),
            new(VisionLayerKinds.Depthwise, 8, 8, 1, Values(8 * 9, 0.5), Values(8, 0.1)),
            new(VisionLayerKinds.Pointwise, 8, 16, 1, Values(16 * 8, 0.5), Values(16, 0.1)),
        ];
        return new VisionWeights(layers, 3, 3, new DenseMatrix(Values(32 * 16, 0.3), 32, 16), Values(32, 0.1), new DenseMatrix(Values(hidden * 32, 0.3), hidden, 32), Values(hidden, 0.1));
    }

    /// <summary>Writes the folder; returns its configuration and the decoder's weights.</summary>
    public static (LanguageModelConfig Config, Lfm2Weights Weights) Write(string folder, int contextLength = 64)
    {
        var config = SeededLfm2.Tiny(contextLength) with { EmbeddingFormat = EmbeddingFormats.Float32, Vision = Settings() };
        var weights = SeededLfm2.Weights(config);
        Directory.CreateDirectory(folder);
        VisionEncoderWriter.Write(folder, config.Vision!, config.HiddenSize, Encoder(config.HiddenSize), calibrationImages: null);
        return (SeededLfm2.WriteFolder(folder, config, weights), weights);
    }

    /// <summary>A deterministic test image, uint8 row-major.</summary>
    public static byte[] Image(int seed)
    {
        var random = new Random(seed);
        var pixels = new byte[Side * Side];
        random.NextBytes(pixels);
        return pixels;
    }
}
