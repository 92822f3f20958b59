using System.Globalization;
using System.Text.Json;
using EdgeRuntime.Generation.Families.Lfm2;
using EdgeRuntime.Generation.Folder;

namespace EdgeRuntime.TestModels.Language.Checkpoints;

/// <summary>How <see cref="HfLfm2Checkpoint"/> writes the checkpoint.</summary>
public sealed record HfLfm2Options
{
    /// <summary>The tensors' dtype: "BF16" (as LiquidAI/LFM2-350M ships) or "F32".</summary>
    public string DType { get; init; } = "BF16";

    /// <summary>Give the attention layers as full_attn_idxs (the older config) instead of layer_types.</summary>
    public bool AttentionIndices { get; init; }

    /// <summary>Leaves the named tensor out.</summary>
    public string? Omit { get; init; }

    /// <summary>Extra tensors to write (name → float32 values, written as [values.Length]).</summary>
    public IReadOnlyDictionary<string, float[]>? Extra { get; init; }

    /// <summary>config.json entries to replace (raw JSON) or, with null, to leave out.</summary>
    public IReadOnlyDictionary<string, string?>? ConfigOverrides { get; init; }
}

/// <summary>
/// Writes an LFM2 checkpoint in the Hugging Face layout transformers' Lfm2ForCausalLM reads: config.json (model_type
/// lfm2, layer_types, conv_L_cache, tied embeddings; the feed-forward width given as the intermediate_size that
/// block_auto_adjust_ff_dim turns into ours when it is a multiple of 256, as in LFM2-350M, else with the adjustment off),
/// model.safetensors with every tensor under its transformers name, and a byte-level tokenizer.json.
/// </summary>
public static class HfLfm2Checkpoint
{
    /// <summary>Writes the folder; returns the weights as the file holds them (rounded to bf16 when written as BF16).</summary>
    public static Lfm2Weights Write(string folder, LanguageModelConfig config, Lfm2Weights weights, HfLfm2Options? options = null)
    {
        options ??= new HfLfm2Options();
        Directory.CreateDirectory(folder);
        WriteConfig(Path.Combine(folder, "config.json"), config, options);
        ByteTokenizerJson.Write(Path.Combine(folder, "tokenizer.json"), [], SeededBitNet.SpecialTokens);
        var tensors = new SafeTensorsWriter();
        bool bf16 = options.DType == "BF16";

        float[] Add(string name, float[] values, params long[] shape)
        {
            if (name != options.Omit)
            {
                tensors.Add(name, options.DType, shape, bf16 ? Bf16.Encode(values) : SafeTensorsWriter.F32(values));
            }

            return bf16 ? Bf16.Round(values) : values;
        }

        DenseMatrix Matrix(string name, DenseMatrix m) => m with { Values = Add(name, m.Values, m.Rows, m.Columns) };

        var embedding = Add("model.embed_tokens.weight", weights.Embedding, config.VocabSize, config.HiddenSize);
        var layers = new Lfm2Layer[weights.Layers.Length];
        for (int l = 0; l < layers.Length; l++)
        {
            var layer = weights.Layers[l];
            string p = $"model.layers.{l}.";
            Lfm2Mixer mixer = layer.Mixer switch
            {
                Lfm2Conv c => new Lfm2Conv(
                    Matrix(p + "conv.in_proj.weight", c.InProjection),
                    Add(p + "conv.conv.weight", c.Kernel, config.HiddenSize, 1, c.Width),
                    c.Width,
                    Matrix(p + "conv.out_proj.weight", c.OutProjection)),
                Lfm2Attention a => new Lfm2Attention(
                    Matrix(p + "self_attn.q_proj.weight", a.Query),
                    Matrix(p + "self_attn.k_proj.weight", a.Key),
                    Matrix(p + "self_attn.v_proj.weight", a.Value),
                    Matrix(p + "self_attn.out_proj.weight", a.Output),
                    Add(p + "self_attn.q_layernorm.weight", a.QueryNorm, a.QueryNorm.Length),
                    Add(p + "self_attn.k_layernorm.weight", a.KeyNorm, a.KeyNorm.Length)),
                _ => throw new ArgumentException($"layer {l}'s mixer is {layer.Mixer.GetType().Name}"),
            };
            layers[l] = new Lfm2Layer(
                Add(p + "operator_norm.weight", layer.OperatorNorm, layer.OperatorNorm.Length),
                mixer,
                Add(p + "ffn_norm.weight", layer.FeedForwardNorm, layer.FeedForwardNorm.Length),
                Matrix(p + "feed_forward.w1.weight", layer.W1),
                Matrix(p + "feed_forward.w3.weight", layer.W3),
                Matrix(p + "feed_forward.w2.weight", layer.W2));
        }

        var norm = Add("model.embedding_norm.weight", weights.FinalNorm, weights.FinalNorm.Length);
        foreach (var (name, values) in options.Extra ?? new Dictionary<string, float[]>())
        {
            Add(name, values, values.Length);
        }

        tensors.Write(Path.Combine(folder, "model.safetensors"));
        return new Lfm2Weights(embedding, layers, norm);
    }

    private static void WriteConfig(string path, LanguageModelConfig config, HfLfm2Options options)
    {
        var c = CultureInfo.InvariantCulture;
        var types = config.LayerTypes ?? [.. Enumerable.Repeat(LayerKinds.Attention, config.Layers)];

        // LFM2-350M's config says intermediate_size 6656 and lets block_auto_adjust_ff_dim make it 4608 (⌈⅔·6656 / 256⌉·256);
        // a width that is a multiple of 256 is written that way, with 1.5 × width, which the rule maps back exactly.
        bool adjusted = config.IntermediateSize % 256 == 0;
        var entries = new List<(string Key, string Raw)>
        {
            ("architectures", "[\"Lfm2ForCausalLM\"]"),
            ("model_type", "\"lfm2\""),
            ("hidden_size", config.HiddenSize.ToString(c)),
            ("intermediate_size", (adjusted ? config.IntermediateSize * 3 / 2 : config.IntermediateSize).ToString(c)),
            ("block_auto_adjust_ff_dim", adjusted ? "true" : "false"),
            ("block_ffn_dim_multiplier", "1.0"),
            ("block_multiple_of", "256"),
            ("num_hidden_layers", config.Layers.ToString(c)),
            ("num_attention_heads", config.AttentionHeads.ToString(c)),
            ("num_key_value_heads", config.KvHeads.ToString(c)),
            ("vocab_size", config.VocabSize.ToString(c)),
            ("rope_theta", config.RopeTheta.ToString("R", c)),
            ("norm_eps", config.RmsNormEps.ToString("R", c)),
            ("conv_L_cache", (config.ConvKernel ?? 3).ToString(c)),
            ("conv_bias", "false"),
            ("max_position_embeddings", config.ContextLength.ToString(c)),
            ("bos_token_id", config.BosTokenId?.ToString(c) ?? "null"),
            ("eos_token_id", $"[{string.Join(", ", config.EosTokenIds.Select(id => id.ToString(c)))}]"),
            ("tie_embedding", "true"),
            ("torch_dtype", options.DType == "BF16" ? "\"bfloat16\"" : "\"float32\""),
        };
        entries.Add(options.AttentionIndices
            ? ("full_attn_idxs", $"[{string.Join(", ", Enumerable.Range(0, types.Length).Where(l => types[l] == LayerKinds.Attention))}]")
            : ("layer_types", $"[{string.Join(", ", types.Select(t => t == LayerKinds.Attention ? "\"full_attention\"" : "\"conv\""))}]"));
        HfConfigJson.Write(path, entries, options.ConfigOverrides);
    }
}
