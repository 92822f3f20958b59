using EdgeRuntime.Generation.Families.Lfm2;
using EdgeRuntime.Generation.Folder;

namespace EdgeRuntime.Conversion.Import;

/// <summary>
/// Reads a Hugging Face LFM2 checkpoint (transformers <c>Lfm2ForCausalLM</c>: config.json + safetensors) into our LFM2
/// representation. Tensor names as transformers' <c>modeling_lfm2.py</c> defines them: <c>model.embed_tokens</c>,
/// per layer <c>operator_norm</c>, <c>ffn_norm</c>, <c>feed_forward.w1/w2/w3</c> and either <c>conv.in_proj</c>,
/// <c>conv.conv</c> (depthwise, [H, 1, L]), <c>conv.out_proj</c> or <c>self_attn.q_proj/k_proj/v_proj/out_proj</c> with
/// <c>q_layernorm</c>/<c>k_layernorm</c>; <c>model.embedding_norm</c> is the final norm. Each layer's weights must be
/// those of the kind config.json's layer_types gives it: a disagreement is refused naming the layer and the tensor.
/// </summary>
internal static class Lfm2Importer
{
    public static ImportedLfm2 Read(string folder, JsonFields json, ImportOptions options)
    {
        var config = Lfm2HfConfig.Read(folder, json);
        var s = config.Sizes;
        using var checkpoint = SafeTensorsCheckpoint.Open(folder);
        CheckLayerKinds(checkpoint, config.LayerTypes, json.Path);
        bool vision = VisionCheckpoint.IsPresent(json);
        CheckNames(checkpoint, config.LayerTypes, vision);
        var weights = ReadWeights(checkpoint, config, json.Path);
        var image = vision ? VisionCheckpoint.Read(json, checkpoint, s.HiddenSize, options.VisionFormat) : default((VisionSettings Settings, Generation.Families.Vision.VisionWeights Weights)?);

        string tokenizer = options.TokenizerPath ?? Path.Combine(folder, "tokenizer.json");
        if (!File.Exists(tokenizer))
        {
            throw new FileNotFoundException($"{tokenizer} does not exist: the folder needs a tokenizer.json (or give one with --tokenizer).", tokenizer);
        }

        var built = ImportedConfig.Build(s, options, HfConfig.ChatTemplateText(folder), $"Hugging Face checkpoint {Path.GetFullPath(folder)}", json.Path, Lfm2FolderWriter.Family)
            with { LayerTypes = config.LayerTypes, ConvKernel = config.ConvKernel, Vision = image?.Settings };
        return new ImportedLfm2
        {
            Config = built,
            Weights = weights,
            TokenizerPath = tokenizer,
            TokenizerNote = options.TokenizerPath is null ? "tokenizer.json of the checkpoint" : $"{options.TokenizerPath} (--tokenizer)",
            VisionWeights = image?.Weights,
            CalibrationImages = options.CalibrationImages ?? (vision && File.Exists(Path.Combine(folder, VisionCheckpoint.CalibrationImagesFile)) ? Path.Combine(folder, VisionCheckpoint.CalibrationImagesFile) : null),
            InputFiles = checkpoint.FileCount,
            InputBytes = checkpoint.Bytes,
        };
    }

    /// <summary>Each layer's tensors are of the kind layer_types says: conv weights in an attention layer (or the reverse) are refused by name.</summary>
    private static void CheckLayerKinds(SafeTensorsCheckpoint checkpoint, string[] kinds, string configPath)
    {
        for (int l = 0; l < kinds.Length; l++)
        {
            bool conv = kinds[l] == LayerKinds.Conv;
            string own = Name(l, conv ? "conv.in_proj.weight" : "self_attn.q_proj.weight");
            string other = conv ? "self_attn." : "conv.";
            string? foreign = checkpoint.Names.Where(n => n.StartsWith(Name(l, other), StringComparison.Ordinal)).Order(StringComparer.Ordinal).FirstOrDefault();
            if (foreign is not null || !checkpoint.Contains(own))
            {
                string has = foreign is not null ? $"it holds {foreign}" : $"it has no {own}";
                string kind = conv ? "conv" : "full_attention";
                throw new InvalidDataException($"{configPath}: layer_types[{l}] is \"{kind}\", but the checkpoint disagrees: {has}. The config and the weights are of different models.");
            }
        }
    }

    /// <summary>Refuses tensors the importer would otherwise leave out silently (biases, extra heads, more layers).</summary>
    private static void CheckNames(SafeTensorsCheckpoint checkpoint, string[] kinds, bool vision)
    {
        var known = new HashSet<string>(StringComparer.Ordinal) { "model.embed_tokens.weight", "model.embedding_norm.weight", "lm_head.weight" };
        for (int l = 0; l < kinds.Length; l++)
        {
            foreach (string name in Common.Concat(kinds[l] == LayerKinds.Conv ? ConvTensors : AttentionTensors))
            {
                known.Add(Name(l, name));
            }
        }

        foreach (string name in checkpoint.Names)
        {
            if (!known.Contains(name) && !(vision && VisionCheckpoint.IsVisionTensor(name)))
            {
                throw new InvalidDataException($"The checkpoint holds {name}, which LFM2 ({kinds.Length} layers, no biases) does not have: it is another architecture or a variant the importer does not support.");
            }
        }
    }

    private static readonly string[] Common = ["operator_norm.weight", "ffn_norm.weight", "feed_forward.w1.weight", "feed_forward.w2.weight", "feed_forward.w3.weight"];

    private static readonly string[] ConvTensors = ["conv.in_proj.weight", "conv.conv.weight", "conv.out_proj.weight"];

    private static readonly string[] AttentionTensors =
        ["self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight", "self_attn.out_proj.weight", "self_attn.q_layernorm.weight", "self_attn.k_layernorm.weight"];

    private static string Name(int layer, string tensor) => $"model.layers.{layer}.{tensor}";

    private static Lfm2Weights ReadWeights(SafeTensorsCheckpoint checkpoint, Lfm2CheckpointConfig config, string configPath)
    {
        var s = config.Sizes;
        int hidden = s.HiddenSize;
        int query = s.AttentionHeads * s.HeadDim;
        int kv = s.KvHeads * s.HeadDim;
        var w1 = checkpoint.Get(Name(0, "feed_forward.w1.weight"));
        if (w1.Shape.Length == 2 && w1.Shape[0] != s.IntermediateSize)
        {
            string how = config.AutoAdjustedFeedForward ? " (intermediate_size after block_auto_adjust_ff_dim)" : " (intermediate_size)";
            throw new InvalidDataException($"{configPath}: the feed-forward width is {s.IntermediateSize}{how}, but {w1.Name} is {w1.ShapeText}.");
        }

        var layers = new Lfm2Layer[s.Layers];
        for (int l = 0; l < s.Layers; l++)
        {
            DenseMatrix Matrix(string tensor, int rows, int columns) => new(HfTensors.ReadFloats(checkpoint.Get(Name(l, tensor)), [rows, columns]), rows, columns);

            float[] Vector(string tensor, int length) => HfTensors.ReadFloats(checkpoint.Get(Name(l, tensor)), [length]);

            Lfm2Mixer mixer = config.LayerTypes[l] == LayerKinds.Conv
                ? new Lfm2Conv(
                    Matrix("conv.in_proj.weight", 3 * hidden, hidden),
                    HfTensors.ReadFloats(checkpoint.Get(Name(l, "conv.conv.weight")), [hidden, 1, config.ConvKernel]),
                    config.ConvKernel,
                    Matrix("conv.out_proj.weight", hidden, hidden))
                : new Lfm2Attention(
                    Matrix("self_attn.q_proj.weight", query, hidden),
                    Matrix("self_attn.k_proj.weight", kv, hidden),
                    Matrix("self_attn.v_proj.weight", kv, hidden),
                    Matrix("self_attn.out_proj.weight", hidden, query),
                    Vector("self_attn.q_layernorm.weight", s.HeadDim),
                    Vector("self_attn.k_layernorm.weight", s.HeadDim));
            layers[l] = new Lfm2Layer(
                Vector("operator_norm.weight", hidden),
                mixer,
                Vector("ffn_norm.weight", hidden),
                Matrix("feed_forward.w1.weight", s.IntermediateSize, hidden),
                Matrix("feed_forward.w3.weight", s.IntermediateSize, hidden),
                Matrix("feed_forward.w2.weight", hidden, s.IntermediateSize));
        }

        var embedding = HfTensors.ReadFloats(checkpoint.Get("model.embed_tokens.weight"), [s.VocabSize, hidden]);
        if (checkpoint.Find("lm_head.weight") is { } head && !HfTensors.ReadFloats(head, [s.VocabSize, hidden]).AsSpan().SequenceEqual(embedding))
        {
            throw new InvalidDataException("The checkpoint's lm_head.weight differs from model.embed_tokens.weight: the head is not tied, and our LFM2 graph reads the head from the embedding.");
        }

        return new Lfm2Weights(embedding, layers, HfTensors.ReadFloats(checkpoint.Get("model.embedding_norm.weight"), [hidden]));
    }
}
