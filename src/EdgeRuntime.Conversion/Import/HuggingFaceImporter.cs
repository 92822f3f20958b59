using EdgeRuntime.Generation.Families.BitNet;

namespace EdgeRuntime.Conversion.Import;

/// <summary>
/// Reads a Hugging Face BitNet b1.58 checkpoint (as microsoft/bitnet-b1.58-2B-4T and its -bf16 sibling ship) into our
/// BitNet representation. What was checked in the sources, and where:
/// <list type="bullet">
/// <item>Tensor names and the block: transformers <c>src/transformers/models/bitnet/modular_bitnet.py</c> — Llama's
/// layer with <c>self_attn.attn_sub_norm</c> (RMSNorm on the attention output, before o_proj), <c>mlp.ffn_sub_norm</c>
/// (before down_proj), MLP down(ffn_sub_norm(act(gate(x))·up(x))) with hidden_act relu2, Llama's
/// <c>apply_rotary_pos_emb</c> (rotate_half: the half-split RoPE our graph uses, so q/k rows are taken as stored —
/// BitNet's own <c>gpu/convert_safetensors.py</c> rearranges HF's "(h l d)" rows to interleaved for its kernel, which
/// confirms HF's order is the half-split one), tied embeddings.</item>
/// <item>Packing: transformers <c>src/transformers/integrations/bitnet.py</c> pack_weights/unpack_weights — uint8
/// [out/4, in], bits 2i..2i+1 of byte [r, c] hold W[i·(out/4)+r, c] + 1 (see <see cref="HfTernary.Unpack"/>).</item>
/// <item>weight_scale, the one trap: the same file has two layers. <c>BitLinear</c> (linear_class "bitlinear", the
/// BitNetQuantConfig default) computes y = x_q·W / (s_x · weight_scale), so β = 1/weight_scale; <c>AutoBitLinear</c>
/// (linear_class "autobitlinear", offline mode) computes y = ActQuant(x)·W · weight_scale, so β = weight_scale.
/// ml-explore/mlx-lm <c>mlx_lm/models/bitlinear_layers.py</c> does the same (invert_weight_scales = linear_class !=
/// "autobitlinear"), and microsoft/BitNet <c>utils/convert-hf-to-gguf-bitnet.py</c> (quantize_to_i2_s) takes 2B4T's
/// weight_scale as ≈ mean|W| and uses it directly as the I2_S multiplier; third-party loaders of the real file quote
/// 2B4T's config as autobitlinear, offline. The importer follows the config's class, as transformers does.
/// (That script's F16/F32 path divides by weight_scale instead, which contradicts its own I2_S path; not followed.)</item>
/// <item>quantization_mode "online" (the -bf16 checkpoint): the projections are bf16 master weights that
/// AutoBitLinear ternarizes on every forward pass with absmean (transformers' WeightQuant); the importer does the
/// same once (<see cref="HfTernary.Quantize"/>).</item>
/// </list>
/// Anything else in the file (biases, rope scaling, an untied head, an RMSNorm inside the linear layers) is refused
/// with the reason rather than ignored.
/// </summary>
internal static class HuggingFaceImporter
{
    public const string ConfigFile = "config.json";

    public static ImportedBitNet Read(string folder, ImportOptions options)
    {
        string configPath = Path.Combine(folder, ConfigFile);
        using var configDocument = JsonFields.Parse(configPath);
        var json = new JsonFields(configPath, configDocument.RootElement);
        var quantization = HfConfig.ReadScaleRule(json);
        var sizes = HfConfig.ReadSizes(folder, json);

        using var checkpoint = SafeTensorsCheckpoint.Open(folder);
        CheckNames(checkpoint, sizes.Layers);
        var weights = ReadWeights(checkpoint, sizes, quantization, out string scaleNote);

        string? tokenizer = options.TokenizerPath ?? Path.Combine(folder, "tokenizer.json");
        if (!File.Exists(tokenizer))
        {
            throw new FileNotFoundException($"{tokenizer} does not exist: the folder needs a tokenizer.json (or give one with --tokenizer).", tokenizer);
        }

        string source = $"Hugging Face checkpoint {Path.GetFullPath(folder)}";
        return new ImportedBitNet
        {
            Form = CheckpointForm.HuggingFace,
            Config = ImportedConfig.Build(sizes, options, HfConfig.ChatTemplateText(folder), source, configPath),
            Weights = weights,
            TokenizerPath = tokenizer,
            TokenizerNote = options.TokenizerPath is null ? "tokenizer.json of the checkpoint" : $"{options.TokenizerPath} (--tokenizer)",
            ScaleNote = scaleNote,
            InputFiles = checkpoint.FileCount,
            InputBytes = checkpoint.Bytes,
        };
    }

    /// <summary>Refuses tensors the importer would otherwise leave out silently (biases, extra heads, more layers).</summary>
    private static void CheckNames(SafeTensorsCheckpoint checkpoint, int layers)
    {
        var known = new HashSet<string>(StringComparer.Ordinal) { "model.embed_tokens.weight", "model.norm.weight", "lm_head.weight" };
        for (int l = 0; l < layers; l++)
        {
            foreach (string name in LayerTensors)
            {
                known.Add(Name(l, name));
            }

            foreach (string projection in Projections)
            {
                known.Add(Name(l, projection) + "_scale");
            }
        }

        foreach (string name in checkpoint.Names)
        {
            if (!known.Contains(name) && !name.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal))
            {
                throw new InvalidDataException($"The checkpoint holds {name}, which BitNet b1.58 ({layers} layers) does not have: it is another architecture or a variant the importer does not support.");
            }
        }
    }

    private static readonly string[] Projections =
    [
        "self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight", "self_attn.o_proj.weight",
        "mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight",
    ];

    private static readonly string[] LayerTensors =
    [
        "input_layernorm.weight", "post_attention_layernorm.weight", "self_attn.attn_sub_norm.weight", "mlp.ffn_sub_norm.weight", .. Projections,
    ];

    private static string Name(int layer, string tensor) => $"model.layers.{layer}.{tensor}";

    private static BitNetWeights ReadWeights(SafeTensorsCheckpoint checkpoint, CheckpointSizes s, HfScaleRule rule, out string scaleNote)
    {
        int attention = s.AttentionHeads * s.HeadDim;
        int kv = s.KvHeads * s.HeadDim;
        var notes = new HashSet<string>(StringComparer.Ordinal);
        var layers = new BitNetLayer[s.Layers];
        for (int l = 0; l < s.Layers; l++)
        {
            TernaryMatrix Projection(string tensor, int rows, int columns)
            {
                var (matrix, note) = ReadProjection(checkpoint, Name(l, tensor), rows, columns, rule);
                notes.Add(note);
                return matrix;
            }

            float[] Vector(string tensor, int length) => HfTensors.ReadFloats(checkpoint.Get(Name(l, tensor)), [length]);

            layers[l] = new BitNetLayer(
                Vector("input_layernorm.weight", s.HiddenSize),
                Projection("self_attn.q_proj.weight", attention, s.HiddenSize),
                Projection("self_attn.k_proj.weight", kv, s.HiddenSize),
                Projection("self_attn.v_proj.weight", kv, s.HiddenSize),
                Vector("self_attn.attn_sub_norm.weight", attention),
                Projection("self_attn.o_proj.weight", s.HiddenSize, attention),
                Vector("post_attention_layernorm.weight", s.HiddenSize),
                Projection("mlp.gate_proj.weight", s.IntermediateSize, s.HiddenSize),
                Projection("mlp.up_proj.weight", s.IntermediateSize, s.HiddenSize),
                Vector("mlp.ffn_sub_norm.weight", s.IntermediateSize),
                Projection("mlp.down_proj.weight", s.HiddenSize, s.IntermediateSize));
        }

        var embedding = HfTensors.ReadFloats(checkpoint.Get("model.embed_tokens.weight"), [s.VocabSize, s.HiddenSize]);
        var norm = HfTensors.ReadFloats(checkpoint.Get("model.norm.weight"), [s.HiddenSize]);
        scaleNote = string.Join("; ", notes.Order(StringComparer.Ordinal));
        return new BitNetWeights(embedding, layers, norm);
    }

    private static (TernaryMatrix Matrix, string Note) ReadProjection(SafeTensorsCheckpoint checkpoint, string name, int rows, int columns, HfScaleRule rule)
    {
        var tensor = checkpoint.Get(name);
        var scaleTensor = checkpoint.Find(name + "_scale");
        if (tensor.DType == "U8")
        {
            if (rows % 4 != 0)
            {
                throw new InvalidDataException($"{name}: {rows} output rows do not pack four to a byte.");
            }

            HfTensors.CheckShape(tensor, [rows / 4, columns], $" (packed [out/4, in] for a [{rows}, {columns}] projection)");
            if (scaleTensor is null)
            {
                throw new InvalidDataException($"The checkpoint has packed ternary {name} but no {name}_scale.");
            }

            var scale = HfTensors.ReadFloats(scaleTensor, null);
            if (scale.Length != 1 || !float.IsFinite(scale[0]) || !(scale[0] > 0))
            {
                throw new InvalidDataException($"{name}_scale holds {scale.Length} value(s) ({string.Join(", ", scale.Take(4))}); a projection's weight_scale is one positive number.");
            }

            float beta = rule == HfScaleRule.Multiplies ? scale[0] : 1f / scale[0];
            string note = rule == HfScaleRule.Multiplies ? "weight_scale multiplies the output (autobitlinear)" : "the output is divided by weight_scale (bitlinear)";
            return (HfTernary.Unpack(name, tensor.Bytes(), rows, columns, beta), note);
        }

        if (HfTensors.FloatFormatOf(tensor) is not null)
        {
            if (scaleTensor is not null)
            {
                throw new InvalidDataException($"{name} is {tensor.DType} and has a {name}_scale: the importer reads packed (uint8) weights with a scale or master weights without one, not both.");
            }

            var master = HfTensors.ReadFloats(tensor, [rows, columns]);
            return (HfTernary.Quantize(master, rows, columns), "absmean ternarization of the master weights (online)");
        }

        throw new InvalidDataException($"{name} is {tensor.DType}; the importer reads projections packed as U8 (with weight_scale) or as BF16/F16/F32 master weights.");
    }
}
