using System.Text.Json;
using EdgeRuntime.Generation.Decoding;
using EdgeRuntime.Onnx;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Generation.Folder;

/// <summary>
/// Reads a folder written by ONNX Runtime GenAI's model builder (genai_config.json, the ONNX graph and its external
/// data, tokenizer.json) as a language-model configuration the engine runs unchanged, with GenAI's input and output
/// names (<see cref="DecoderIo.GenAi"/>). Model type "lfm2" is read; the sizes the graph itself carries (RoPE θ, norm
/// ε, the feed-forward width) are not needed and are left at zero.
/// </summary>
internal static class GenAiFolder
{
    public const string ConfigFile = "genai_config.json";

    public static LanguageModelConfig Read(string folder)
    {
        string path = Path.Combine(folder, ConfigFile);
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(path));
            var model = Object(document.RootElement, "model", path);
            string type = String(model, "type", path);
            if (type != "lfm2")
            {
                throw new EdgeRuntimeException(ErrorCodes.ModelInvalid, $"{path}: model type \"{type}\"; edged runs GenAI folders of type \"lfm2\" (others are not tested yet).");
            }

            var decoder = Object(model, "decoder", path);
            string graph = String(decoder, "filename", path);
            int layers = Int(decoder, "num_hidden_layers", path);
            string[] layerTypes = decoder.TryGetProperty("layer_types", out var types) && types.ValueKind == JsonValueKind.Array
                ? [.. types.EnumerateArray().Select((t, i) => t.GetString() switch
                {
                    "full_attention" => LayerKinds.Attention,
                    "conv" => LayerKinds.Conv,
                    var other => throw new EdgeRuntimeException(ErrorCodes.ModelInvalid, $"{path}: layer_types[{i}] is \"{other}\"; edged runs \"full_attention\" and \"conv\" layers."),
                })]
                : [.. Enumerable.Repeat(LayerKinds.Attention, layers)];
            string graphPath = Path.Combine(folder, graph);
            if (!File.Exists(graphPath))
            {
                throw new EdgeRuntimeException(ErrorCodes.ModelNotFound, $"The graph {graphPath} (named in {ConfigFile}) does not exist.");
            }

            byte[] graphBytes = File.ReadAllBytes(graphPath);
            var summary = OnnxModelSummary.Read(graphBytes);
            int? kernel = null;
            if (layerTypes.Contains(LayerKinds.Conv))
            {
                int first = Array.IndexOf(layerTypes, LayerKinds.Conv);
                string name = DecoderIo.GenAi.PastConv(first);
                var input = summary.Inputs.FirstOrDefault(i => i.Name == name)
                    ?? throw new EdgeRuntimeException(ErrorCodes.ModelInvalid, $"{graphPath} has no input {name}, which conv layer {first} needs.");
                kernel = input.Shape is [_, _, { Value: long width }] ? (int)width + 1
                    : throw new EdgeRuntimeException(ErrorCodes.ModelInvalid, $"{graphPath}: {name} is [{string.Join(", ", input.Shape)}]; a conv state is [batch, hidden, width] with a fixed width.");
            }

            // The external data file the graph names (the builder's model.onnx.data); a graph without one maps itself.
            string weights = ExternalInitializers.Read(graphBytes).Select(t => t.Location).Distinct().SingleOrDefault() ?? graph;
            int heads = Int(decoder, "num_attention_heads", path);
            return new LanguageModelConfig
            {
                Format = FormatName,
                FormatVersion = LanguageModelConfig.CurrentFormatVersion,
                Family = type,
                VocabSize = Int(model, "vocab_size", path),
                HiddenSize = Int(decoder, "hidden_size", path),
                IntermediateSize = Int(decoder, "hidden_size", path),
                Layers = layers,
                AttentionHeads = heads,
                KvHeads = Int(decoder, "num_key_value_heads", path),
                HeadDim = Int(decoder, "head_size", path),
                RopeTheta = 0,
                RmsNormEps = 0,
                ContextLength = Int(model, "context_length", path),
                BosTokenId = model.TryGetProperty("bos_token_id", out var bos) && bos.ValueKind == JsonValueKind.Number ? bos.GetInt32() : null,
                EosTokenIds = Ids(model, "eos_token_id"),
                EmbeddingFormat = EmbeddingFormats.Float32,
                LayerTypes = layerTypes,
                ConvKernel = kernel,
                Graph = graph,
                Weights = weights,
                WeightsBytes = new FileInfo(Path.Combine(folder, weights)).Length,
                Source = $"ONNX Runtime GenAI folder {Path.GetFullPath(folder)}",
            };
        }
        catch (JsonException e)
        {
            throw new EdgeRuntimeException(ErrorCodes.ModelInvalid, $"{path} is not valid JSON: {e.Message}", e);
        }
        catch (FileNotFoundException e)
        {
            throw new EdgeRuntimeException(ErrorCodes.ModelNotFound, $"{path} names a file that does not exist: {e.Message}", e);
        }
    }

    /// <summary>config.json's format marker for a folder read from genai_config.json.</summary>
    public const string FormatName = "onnxruntime-genai";

    private static JsonElement Object(JsonElement parent, string name, string path) =>
        parent.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Object ? value
            : throw new EdgeRuntimeException(ErrorCodes.ModelInvalid, $"{path} has no \"{name}\" object.");

    private static string String(JsonElement parent, string name, string path) =>
        parent.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString()!
            : throw new EdgeRuntimeException(ErrorCodes.ModelInvalid, $"{path} has no \"{name}\" string.");

    private static int Int(JsonElement parent, string name, string path) =>
        parent.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int number) ? number
            : throw new EdgeRuntimeException(ErrorCodes.ModelInvalid, $"{path} has no integer \"{name}\".");

    private static int[] Ids(JsonElement parent, string name) =>
        !parent.TryGetProperty(name, out var value) ? []
            : value.ValueKind == JsonValueKind.Array ? [.. value.EnumerateArray().Select(e => e.GetInt32())]
            : value.ValueKind == JsonValueKind.Number ? [value.GetInt32()] : [];
}
