using System.Text.Json;
using EdgeRuntime.Generation.Decoding;
using EdgeRuntime.Generation.Folder;

namespace EdgeRuntime.Generation.Families.Lfm2;

/// <summary>
/// Writes an LFM2 model as ONNX Runtime GenAI's model builder lays out an INT4 CPU model (model type "lfm2"):
/// <c>genai_config.json</c>, <c>model.onnx</c> with its weights in <c>model.onnx.data</c>, and a tokenizer.json. The
/// graph takes GenAI's inputs (input_ids, attention_mask, past_key_values.N.key/value for attention layers,
/// past_key_values.N.conv_state for conv layers) and gives its outputs (logits [batch, 1, vocab] from a pruned head,
/// present.N.*); projections and the head are MatMulNBits (block size as configured, accuracy level 4), attention is
/// GroupQueryAttention sharing past and present (search.past_present_share_buffer). The builder itself is not available
/// here, so this follows its documented format (docs/language-models.md); GenAI 0.20 loads and runs what it writes
/// (build.ps1 bench-llm runs it), and edged loads it unchanged.
/// </summary>
public static class GenAiFolderWriter
{
    public const string ConfigFile = "genai_config.json";
    public const string GraphFile = "model.onnx";
    public const string DataFile = "model.onnx.data";

    public static void Write(string folder, LanguageModelConfig config, Lfm2Weights weights, string tokenizerJson)
    {
        if (config.Projections != ProjectionFormats.Int4)
        {
            throw new ArgumentException("A GenAI folder is written with int4 projections (the model builder's INT4 layout): set projectionFormat int4.", nameof(config));
        }

        Directory.CreateDirectory(folder);
        EdgeRuntime.Onnx.OnnxModelBuilder graph;
        using (var file = new WeightFileWriter(Path.Combine(folder, DataFile)))
        {
            graph = Lfm2GraphBuilder.Build(config, weights, file, DataFile, errors: null, DecoderIo.GenAi);
            file.Finish();
        }

        graph.Save(Path.Combine(folder, GraphFile));
        File.Copy(tokenizerJson, Path.Combine(folder, "tokenizer.json"), overwrite: true);
        WriteConfig(Path.Combine(folder, ConfigFile), config);
    }

    private static void WriteConfig(string path, LanguageModelConfig config)
    {
        using var stream = File.Create(path);
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteStartObject("model");
        json.WriteString("type", "lfm2");
        json.WriteNumber("vocab_size", config.VocabSize);
        json.WriteNumber("context_length", config.ContextLength);
        json.WriteNumber("bos_token_id", config.BosTokenId ?? 0);
        json.WriteStartArray("eos_token_id");
        foreach (int id in config.EosTokenIds)
        {
            json.WriteNumberValue(id);
        }

        json.WriteEndArray();

        // GenAI reads the logits of the last non-pad token of a prompt; the end-of-text token never ends a prompt.
        json.WriteNumber("pad_token_id", config.EosTokenIds.FirstOrDefault());
        json.WriteStartObject("decoder");
        json.WriteString("filename", GraphFile);
        json.WriteNumber("head_size", config.HeadDim);
        json.WriteNumber("hidden_size", config.HiddenSize);
        json.WriteNumber("num_attention_heads", config.AttentionHeads);
        json.WriteNumber("num_key_value_heads", config.KvHeads);
        json.WriteNumber("num_hidden_layers", config.Layers);
        json.WriteStartArray("layer_types");
        foreach (string kind in config.LayerTypes ?? [.. Enumerable.Repeat(LayerKinds.Attention, config.Layers)])
        {
            json.WriteStringValue(kind == LayerKinds.Conv ? "conv" : "full_attention");
        }

        json.WriteEndArray();
        json.WriteStartObject("session_options");
        json.WriteString("log_id", "onnxruntime-genai");
        json.WriteStartArray("provider_options");
        json.WriteEndArray();
        json.WriteEndObject();
        json.WriteEndObject(); // decoder
        json.WriteEndObject(); // model
        json.WriteStartObject("search");
        json.WriteBoolean("do_sample", false);
        json.WriteNumber("max_length", config.ContextLength);
        json.WriteNumber("num_beams", 1);
        json.WriteBoolean("past_present_share_buffer", true);
        json.WriteEndObject();
        json.WriteEndObject();
    }
}
