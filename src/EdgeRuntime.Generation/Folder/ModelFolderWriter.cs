using System.Text.Json;
using EdgeRuntime.Onnx;

namespace EdgeRuntime.Generation.Folder;

/// <summary>
/// Writes a model folder whatever its family: <c>model.onnx</c> (the graph; a static-shape folder has two, a few hundred KB), <c>weights.bin</c>
/// (external data, 64-byte aligned), <c>config.json</c> (sizes, tokens, the weights' length and hash) and the tokenizer.
/// The family supplies the graph, built while its weights are appended to the file.
/// </summary>
internal static class ModelFolderWriter
{
    /// <param name="config">The configuration; its file fields (weights length and hash) are filled in here.</param>
    /// <param name="tokenizerJson">The tokenizer.json to copy into the folder.</param>
    /// <param name="build">Builds the graph, appending its weights to the file it is given (named config.Weights in the graph).</param>
    public static LanguageModelConfig Write(string folder, LanguageModelConfig config, string tokenizerJson, Func<WeightFileWriter, OnnxModelBuilder> build) =>
        Write(folder, config, tokenizerJson, file => [(config.Graph, build(file))]);

    /// <param name="build">Builds the folder's graphs (file name and graph; a static-shape folder has two over the same weights).</param>
    public static LanguageModelConfig Write(string folder, LanguageModelConfig config, string tokenizerJson, Func<WeightFileWriter, IReadOnlyList<(string File, OnnxModelBuilder Graph)>> build)
    {
        Directory.CreateDirectory(folder);
        string hash;
        long length;
        IReadOnlyList<(string File, OnnxModelBuilder Graph)> graphs;
        using (var file = new WeightFileWriter(Path.Combine(folder, config.Weights)))
        {
            graphs = build(file);
            hash = file.Finish();
            length = file.Length;
        }

        foreach (var (name, graph) in graphs)
        {
            graph.Save(Path.Combine(folder, name));
        }

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
