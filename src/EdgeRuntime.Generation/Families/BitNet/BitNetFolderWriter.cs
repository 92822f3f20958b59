using System.Text.Json;
using EdgeRuntime.Generation.Folder;

namespace EdgeRuntime.Generation.Families.BitNet;

/// <summary>
/// Writes a BitNet b1.58 model folder: <c>model.onnx</c> (the graph, a few hundred KB), <c>weights.bin</c> (external
/// data, 64-byte aligned), <c>config.json</c> (sizes, tokens, the weights' length and hash) and the tokenizer.
/// </summary>
public static class BitNetFolderWriter
{
    public const string Family = "bitnet";

    /// <param name="config">The configuration; its file fields (weights length and hash) are filled in here.</param>
    /// <param name="tokenizerJson">The tokenizer.json to copy into the folder.</param>
    public static LanguageModelConfig Write(string folder, LanguageModelConfig config, BitNetWeights weights, string tokenizerJson)
    {
        if (config.Family != Family)
        {
            throw new ArgumentException($"The configuration's family is \"{config.Family}\"; this writer makes \"{Family}\" folders.", nameof(config));
        }

        Directory.CreateDirectory(folder);
        string hash;
        long length;
        EdgeRuntime.Onnx.OnnxModelBuilder graph;
        using (var file = new WeightFileWriter(Path.Combine(folder, config.Weights)))
        {
            graph = BitNetGraphBuilder.Build(config, weights, file, config.Weights);
            hash = file.Finish();
            length = file.Length;
        }

        graph.Save(Path.Combine(folder, config.Graph));
        string tokenizerTarget = Path.Combine(folder, config.Tokenizer);
        if (!string.Equals(Path.GetFullPath(tokenizerJson), Path.GetFullPath(tokenizerTarget), StringComparison.Ordinal))
        {
            File.Copy(tokenizerJson, tokenizerTarget, overwrite: true);
        }

        var written = config with { WeightsBytes = length, WeightsXxHash3 = hash };
        File.WriteAllText(Path.Combine(folder, LanguageModelFolder.ConfigFile), JsonSerializer.Serialize(written, GenerationJsonContext.Default.LanguageModelConfig));
        return written;
    }

}
