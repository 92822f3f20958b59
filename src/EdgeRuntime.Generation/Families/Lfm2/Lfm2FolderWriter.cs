using EdgeRuntime.Generation.Folder;

namespace EdgeRuntime.Generation.Families.Lfm2;

/// <summary>Writes an LFM2 hybrid model folder (<see cref="ModelFolderWriter"/>) with <see cref="Lfm2GraphBuilder"/>'s graph.</summary>
public static class Lfm2FolderWriter
{
    public const string Family = "lfm2";

    /// <param name="config">The configuration; its file fields (weights length and hash) are filled in here.</param>
    /// <param name="tokenizerJson">The tokenizer.json to copy into the folder.</param>
    public static LanguageModelConfig Write(string folder, LanguageModelConfig config, Lfm2Weights weights, string tokenizerJson) =>
        Write(folder, config, weights, tokenizerJson, errors: null);

    /// <param name="errors">Receives each quantized projection's weight error (none for float32 projections).</param>
    public static LanguageModelConfig Write(string folder, LanguageModelConfig config, Lfm2Weights weights, string tokenizerJson, List<ProjectionError>? errors)
    {
        if (config.Family != Family)
        {
            throw new ArgumentException($"The configuration's family is \"{config.Family}\"; this writer makes \"{Family}\" folders.", nameof(config));
        }

        if (config.LayerTypes is null || config.ConvKernel is null)
        {
            throw new ArgumentException("An LFM2 configuration needs layerTypes and convKernel.", nameof(config));
        }

        return ModelFolderWriter.Write(folder, config, tokenizerJson, file => Lfm2GraphBuilder.Build(config, weights, file, config.Weights, errors));
    }
}
