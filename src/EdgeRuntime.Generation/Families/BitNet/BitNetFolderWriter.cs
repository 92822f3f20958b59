using EdgeRuntime.Generation.Folder;
using EdgeRuntime.Kernels.Ternary;

namespace EdgeRuntime.Generation.Families.BitNet;

/// <summary>Writes a BitNet b1.58 model folder (<see cref="ModelFolderWriter"/>) with <see cref="BitNetGraphBuilder"/>'s graph.</summary>
public static class BitNetFolderWriter
{
    public const string Family = "bitnet";

    /// <param name="config">The configuration; its file fields (weights length and hash) are filled in here.</param>
    /// <param name="tokenizerJson">The tokenizer.json to copy into the folder.</param>
    /// <param name="layout">How the ternary projections are stored: 2 bits a weight, or five weights a byte (1.6 bits).</param>
    public static LanguageModelConfig Write(string folder, LanguageModelConfig config, BitNetWeights weights, string tokenizerJson, TernaryLayout layout = TernaryLayout.FourPerByte)
    {
        if (config.Family != Family)
        {
            throw new ArgumentException($"The configuration's family is \"{config.Family}\"; this writer makes \"{Family}\" folders.", nameof(config));
        }

        if (config.Projections != ProjectionFormats.Float32)
        {
            throw new ArgumentException($"projectionFormat is \"{config.ProjectionFormat}\"; BitNet's projections are ternary (BitLinear), and the field must stay \"{ProjectionFormats.Float32}\".", nameof(config));
        }

        return ModelFolderWriter.Write(folder, config, tokenizerJson, file => BitNetGraphBuilder.Build(config, weights, file, config.Weights, layout));
    }
}
