using System.Globalization;
using System.Text.Json;
using EdgeRuntime.Generation.Families.BitNet;
using EdgeRuntime.Generation.Folder;

namespace EdgeRuntime.TestModels.Language.Checkpoints;

/// <summary>How <see cref="HfBitNetCheckpoint"/> writes the checkpoint.</summary>
public sealed record HfCheckpointOptions
{
    /// <summary>quantization_config.linear_class: "autobitlinear" (2B4T: weight_scale = β) or "bitlinear" (1/β).</summary>
    public string LinearClass { get; init; } = "autobitlinear";

    /// <summary>Write bf16 master weights (quantization_mode online, as the -bf16 checkpoint) instead of packed ones.</summary>
    public bool Masters { get; init; }

    /// <summary>More than one: model-0000N-of-0000M.safetensors files and model.safetensors.index.json.</summary>
    public int Shards { get; init; } = 1;

    /// <summary>tokenizer_config.json's chat_template; none written when null.</summary>
    public string? ChatTemplate { get; init; }

    /// <summary>Changes a tensor's bytes before they are written (to make broken files): (name, bytes) → bytes.</summary>
    public Func<string, byte[], byte[]>? Tamper { get; init; }

    /// <summary>Leaves the named tensor out.</summary>
    public string? Omit { get; init; }

    /// <summary>config.json entries to replace (raw JSON) or, with null, to leave out.</summary>
    public IReadOnlyDictionary<string, string?>? ConfigOverrides { get; init; }
}

/// <summary>
/// Writes a BitNet b1.58 checkpoint exactly in the Hugging Face layout microsoft/bitnet-b1.58-2B-4T ships: config.json
/// (BitNetForCausalLM, relu2, tied embeddings, quantization_config), model.safetensors with the embedding and norms
/// in bf16 and every projection packed as uint8 [out/4, in] (byte [r, c] holds W[i·(out/4)+r, c] + 1 in bits 2i..2i+1)
/// with a bf16 weight_scale of shape [1], and a byte-level tokenizer.json.
/// </summary>
public static class HfBitNetCheckpoint
{
    /// <summary>
    /// Writes the folder; returns the weights as the files hold them (floats rounded to bf16, β as weight_scale gives
    /// it back), which is what an import must reproduce and what the reference should run on.
    /// </summary>
    public static BitNetWeights Write(string folder, LanguageModelConfig config, BitNetWeights weights, HfCheckpointOptions? options = null)
    {
        options ??= new HfCheckpointOptions();
        Directory.CreateDirectory(folder);
        WriteConfig(Path.Combine(folder, "config.json"), config, options);
        ByteTokenizerJson.Write(Path.Combine(folder, "tokenizer.json"), [], SeededBitNet.SpecialTokens);
        if (options.ChatTemplate is { } template)
        {
            using var stream = File.Create(Path.Combine(folder, "tokenizer_config.json"));
            using var json = new Utf8JsonWriter(stream);
            json.WriteStartObject();
            json.WriteString("chat_template", template);
            json.WriteEndObject();
        }

        var tensors = new SafeTensorsWriter();
        void Add(string name, string dtype, long[] shape, byte[] data)
        {
            if (name != options.Omit)
            {
                tensors.Add(name, dtype, shape, options.Tamper?.Invoke(name, data) ?? data);
            }
        }

        float[] Floats(string name, float[] values, params long[] shape)
        {
            Add(name, "BF16", shape, Bf16.Encode(values));
            return Bf16.Round(values);
        }

        TernaryMatrix Projection(string name, TernaryMatrix matrix) =>
            options.Masters ? WriteMaster(Add, name, matrix) : WritePacked(Add, name, matrix, options.LinearClass);

        var embedding = Floats("model.embed_tokens.weight", weights.Embedding, config.VocabSize, config.HiddenSize);
        var layers = new BitNetLayer[weights.Layers.Length];
        for (int l = 0; l < layers.Length; l++)
        {
            var layer = weights.Layers[l];
            string p = $"model.layers.{l}.";
            layers[l] = new BitNetLayer(
                Floats(p + "input_layernorm.weight", layer.AttentionNorm, layer.AttentionNorm.Length),
                Projection(p + "self_attn.q_proj.weight", layer.Query),
                Projection(p + "self_attn.k_proj.weight", layer.Key),
                Projection(p + "self_attn.v_proj.weight", layer.Value),
                Floats(p + "self_attn.attn_sub_norm.weight", layer.AttentionSubNorm, layer.AttentionSubNorm.Length),
                Projection(p + "self_attn.o_proj.weight", layer.Output),
                Floats(p + "post_attention_layernorm.weight", layer.FeedForwardNorm, layer.FeedForwardNorm.Length),
                Projection(p + "mlp.gate_proj.weight", layer.Gate),
                Projection(p + "mlp.up_proj.weight", layer.Up),
                Floats(p + "mlp.ffn_sub_norm.weight", layer.FeedForwardSubNorm, layer.FeedForwardSubNorm.Length),
                Projection(p + "mlp.down_proj.weight", layer.Down));
        }

        var norm = Floats("model.norm.weight", weights.FinalNorm, weights.FinalNorm.Length);
        if (options.Shards > 1)
        {
            tensors.WriteSharded(folder, options.Shards);
        }
        else
        {
            tensors.Write(Path.Combine(folder, "model.safetensors"));
        }

        return new BitNetWeights(embedding, layers, norm);
    }

    /// <summary>transformers' pack_weights: uint8 [out/4, in], W[i·(out/4)+r, c] + 1 in bits 2i..2i+1 of byte [r, c].</summary>
    public static byte[] Pack(TernaryMatrix matrix)
    {
        int quarter = matrix.Rows / 4;
        var packed = new byte[quarter * matrix.Columns];
        for (int r = 0; r < quarter; r++)
        {
            for (int c = 0; c < matrix.Columns; c++)
            {
                int b = 0;
                for (int i = 0; i < 4; i++)
                {
                    b |= (matrix.WeightAt((i * quarter) + r, c) + 1) << (2 * i);
                }

                packed[(r * matrix.Columns) + c] = (byte)b;
            }
        }

        return packed;
    }

    private static TernaryMatrix WritePacked(Action<string, string, long[], byte[]> add, string name, TernaryMatrix matrix, string linearClass)
    {
        add(name, "U8", [matrix.Rows / 4, matrix.Columns], Pack(matrix));

        // autobitlinear multiplies the output by weight_scale, bitlinear divides it: store β or 1/β accordingly.
        float scale = linearClass == "autobitlinear" ? matrix.Beta : 1f / matrix.Beta;
        add(name + "_scale", "BF16", [1], Bf16.Encode([scale]));
        float stored = Bf16.Round(scale);
        return matrix with { Beta = linearClass == "autobitlinear" ? stored : 1f / stored };
    }

    /// <summary>
    /// Master weights that absmean ternarization maps back to the same codes: ±β·(1 ± 5 %) for ±1, ±5 % of β for 0
    /// (mean|W| ≈ 0.7·β, so nonzero weights land near ±1.4 and zeros near 0.07 after dividing by it). Returns the
    /// matrix the import must produce: the same codes, β = mean|W| of the stored bf16 values.
    /// </summary>
    private static TernaryMatrix WriteMaster(Action<string, string, long[], byte[]> add, string name, TernaryMatrix matrix)
    {
        var random = new Random(name.Length * 7919);
        var master = new float[matrix.Rows * matrix.Columns];
        for (int r = 0; r < matrix.Rows; r++)
        {
            for (int c = 0; c < matrix.Columns; c++)
            {
                float jitter = (float)((random.NextDouble() * 0.1) - 0.05);
                int w = matrix.WeightAt(r, c);
                master[(r * matrix.Columns) + c] = matrix.Beta * (w == 0 ? jitter : w * (1 + jitter));
            }
        }

        add(name, "BF16", [matrix.Rows, matrix.Columns], Bf16.Encode(master));
        var stored = Bf16.Round(master);
        double sum = stored.Sum(v => (double)Math.Abs(v));
        return matrix with { Beta = 1f / (1f / (float)(sum / stored.Length)) };
    }

    private static void WriteConfig(string path, LanguageModelConfig config, HfCheckpointOptions options)
    {
        var c = CultureInfo.InvariantCulture;
        var entries = new List<(string Key, string Raw)>
        {
            ("architectures", "[\"BitNetForCausalLM\"]"),
            ("model_type", "\"bitnet\""),
            ("hidden_act", "\"relu2\""),
            ("hidden_size", config.HiddenSize.ToString(c)),
            ("intermediate_size", config.IntermediateSize.ToString(c)),
            ("num_hidden_layers", config.Layers.ToString(c)),
            ("num_attention_heads", config.AttentionHeads.ToString(c)),
            ("num_key_value_heads", config.KvHeads.ToString(c)),
            ("vocab_size", config.VocabSize.ToString(c)),
            ("rope_theta", config.RopeTheta.ToString("R", c)),
            ("rms_norm_eps", config.RmsNormEps.ToString("R", c)),
            ("max_position_embeddings", config.ContextLength.ToString(c)),
            ("bos_token_id", config.BosTokenId?.ToString(c) ?? "null"),
            ("eos_token_id", $"[{string.Join(", ", config.EosTokenIds.Select(id => id.ToString(c)))}]"),
            ("tie_word_embeddings", "true"),
            ("torch_dtype", "\"bfloat16\""),
            ("quantization_config", $"{{\"quant_method\": \"bitnet\", \"linear_class\": \"{options.LinearClass}\", \"quantization_mode\": \"{(options.Masters ? "online" : "offline")}\"}}"),
        };
        HfConfigJson.Write(path, entries, options.ConfigOverrides);
    }
}
