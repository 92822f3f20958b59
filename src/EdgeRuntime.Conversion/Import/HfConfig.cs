using System.Text.Json;

namespace EdgeRuntime.Conversion.Import;

/// <summary>How a packed projection's weight_scale is applied (transformers integrations/bitnet.py).</summary>
internal enum HfScaleRule
{
    /// <summary>linear_class bitlinear: the output is divided by weight_scale.</summary>
    Divides,

    /// <summary>linear_class autobitlinear: the output is multiplied by weight_scale.</summary>
    Multiplies,
}

/// <summary>
/// A Hugging Face BitNet checkpoint's config.json (and its tokenizer_config.json and generation_config.json): the
/// sizes, the special tokens, how weight_scale is read, and everything that makes it a model our BitNet graph cannot
/// run (another architecture or activation, an untied head, RoPE scaling, biases), refused with the reason.
/// </summary>
internal static class HfConfig
{
    public static HfScaleRule ReadScaleRule(JsonFields json)
    {
        if (json.Object("quantization_config") is not { } q)
        {
            return HfScaleRule.Divides; // no quantization_config: bf16 masters (their dtype says so), or transformers' default class
        }

        string method = q.OptionalString("quant_method") ?? "(none)";
        if (method != "bitnet")
        {
            throw new InvalidDataException($"{json.Path}: quantization_config.quant_method is '{method}'; the importer reads BitNet ('bitnet') checkpoints.");
        }

        if (q.OptionalBool("use_rms_norm") == true)
        {
            throw new InvalidDataException($"{json.Path}: quantization_config.use_rms_norm is true (an RMSNorm inside every linear layer), which BitNet b1.58 2B4T does not use and the importer does not support.");
        }

        string linear = q.OptionalString("linear_class") ?? "bitlinear";
        return linear switch
        {
            "bitlinear" => HfScaleRule.Divides,
            "autobitlinear" => HfScaleRule.Multiplies,
            _ => throw new InvalidDataException($"{json.Path}: quantization_config.linear_class is '{linear}'; transformers knows bitlinear and autobitlinear."),
        };
    }

    public static CheckpointSizes ReadSizes(string folder, JsonFields json)
    {
        string type = json.OptionalString("model_type") ?? "(none)";
        bool bitnet = type == "bitnet" || (json.Root.TryGetProperty("architectures", out var architectures) && architectures.ValueKind == JsonValueKind.Array
            && architectures.EnumerateArray().Any(a => a.ValueKind == JsonValueKind.String && a.GetString() is "BitNetForCausalLM" or "BitnetForCausalLM"));
        if (!bitnet)
        {
            throw new InvalidDataException($"{json.Path} describes a '{type}' model; the importer reads BitNet b1.58 checkpoints (model_type bitnet, BitNetForCausalLM).");
        }

        string activation = json.OptionalString("hidden_act") ?? "(none)";
        if (activation != "relu2")
        {
            throw new InvalidDataException($"{json.Path}: hidden_act is '{activation}'; BitNet b1.58's feed-forward uses relu2 (squared ReLU), the only one our graph computes.");
        }

        if (json.OptionalBool("tie_word_embeddings") == false)
        {
            throw new InvalidDataException($"{json.Path}: tie_word_embeddings is false; our BitNet graph reads the output head from the embedding (tied), so an untied head is not supported.");
        }

        if (json.Has("rope_scaling"))
        {
            throw new InvalidDataException($"{json.Path} sets rope_scaling; the importer supports plain RoPE only.");
        }

        if (json.OptionalBool("attention_bias") == true || json.OptionalBool("mlp_bias") == true)
        {
            throw new InvalidDataException($"{json.Path}: attention_bias or mlp_bias is true; BitNet b1.58's projections have no bias.");
        }

        int hidden = json.Int("hidden_size");
        int heads = json.Int("num_attention_heads");
        var eos = json.Ids("eos_token_id").ToList();
        string generation = Path.Combine(folder, "generation_config.json");
        if (File.Exists(generation))
        {
            using var document = JsonFields.Parse(generation);
            eos.AddRange(new JsonFields(generation, document.RootElement).Ids("eos_token_id"));
        }

        return new CheckpointSizes(
            json.Int("vocab_size"),
            hidden,
            json.Int("intermediate_size"),
            json.Int("num_hidden_layers"),
            heads,
            json.OptionalInt("num_key_value_heads") ?? heads,
            json.OptionalInt("head_dim") ?? (heads > 0 ? hidden / heads : 0),
            json.Has("rope_theta") ? json.Double("rope_theta") : 10000,
            json.Double("rms_norm_eps"),
            json.Int("max_position_embeddings"),
            json.OptionalInt("bos_token_id"),
            [.. eos]);
    }

    /// <summary>tokenizer_config.json's chat_template: a string, or a list of named templates ("default" first).</summary>
    public static string? ChatTemplateText(string folder)
    {
        string path = Path.Combine(folder, "tokenizer_config.json");
        if (!File.Exists(path))
        {
            return null;
        }

        using var document = JsonFields.Parse(path);
        if (!document.RootElement.TryGetProperty("chat_template", out var template))
        {
            return null;
        }

        if (template.ValueKind == JsonValueKind.String)
        {
            return template.GetString();
        }

        return template.ValueKind == JsonValueKind.Array
            ? template.EnumerateArray()
                .Where(t => t.ValueKind == JsonValueKind.Object && t.TryGetProperty("template", out var text) && text.ValueKind == JsonValueKind.String)
                .OrderBy(t => t.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String && n.GetString() == "default" ? 0 : 1)
                .Select(t => t.GetProperty("template").GetString())
                .FirstOrDefault()
            : null;
    }
}
