using EdgeRuntime.Generation.Families.BitNet;

namespace EdgeRuntime.Conversion.Import;

/// <summary>
/// Reads bitnet.cpp's GGUF of BitNet b1.58 (microsoft/bitnet-b1.58-2B-4T-gguf's ggml-model-i2_s.gguf) into our BitNet
/// representation. What was checked in the sources, and where:
/// <list type="bullet">
/// <item>Architectures: "bitnet-b1.58" (2B4T's published file, general.architecture as bitnet.cpp's logs show it) and
/// "bitnet-25" (the earlier name, microsoft/BitNet <c>utils/convert-ms-to-gguf-bitnet.py</c>); both build the same
/// graph (ikawrakow/ik_llama.cpp <c>src/graphs/build_bitnet.cpp</c> build_bitnet_158: RMSNorm, q/k/v, RoPE, attention,
/// attn_sub_norm, attn_output, residual; ffn_norm, relu² gate · up, ffn_sub_norm, ffn_down, residual; output_norm and
/// the embedding as head when output.weight is absent). Older "bitnet" files (1bitLLM's models) use a SiLU
/// feed-forward (Eddie-Wang1120/llama.cpp merge-dev <c>src/llama.cpp</c> build_bitnet) and are refused.</item>
/// <item>Tensor names: token_embd, output_norm, blk.N.attn_norm, attn_q, attn_k, attn_v, attn_output, attn_sub_norm,
/// ffn_norm, ffn_gate, ffn_up, ffn_down, ffn_sub_norm (ik_llama.cpp <c>src/llama-model.cpp</c>, LLM_ARCH_BITNET_B158;
/// gguf-py <c>constants.py</c> in the fork). A projection is {ne0 = in, ne1 = out}: row-major [out, in].</item>
/// <item>Metadata: {arch}.block_count, embedding_length, feed_forward_length, attention.head_count, head_count_kv,
/// rope.freq_base, rope.dimension_count, attention.layer_norm_rms_epsilon, context_length; tokenizer.ggml.* (model
/// "gpt2", pre "llama-bpe" in 2B4T's file).</item>
/// <item>RoPE order: llama.cpp's LLaMA converter permutes q/k rows for its interleaved ("NORM") RoPE
/// (<c>utils/convert-hf-to-gguf-bitnet.py</c> LlamaModel.permute), but the BitNet archs are in llama_rope_type's NEOX
/// list (half-split RoPE: ik_llama.cpp <c>src/llama.cpp</c>, the fork's merge-dev <c>src/llama.cpp</c>), and neither
/// BitNet converter permutes (BitnetModel.modify_tensors does not; convert-ms-to-gguf-bitnet.py has the permutation
/// commented out). So q/k rows are in HF's order already and are taken as stored.</item>
/// <item>Projections are I2_S (<see cref="I2sWeights"/>): the scale stored with each tensor multiplies the output.</item>
/// </list>
/// </summary>
internal static class GgufImporter
{
    private static readonly string[] Architectures = ["bitnet-b1.58", "bitnet-25"];

    private static readonly string[] LayerTensors =
    [
        "attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "attn_sub_norm", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down", "ffn_sub_norm",
    ];

    public static ImportedBitNet Read(string path, ImportOptions options)
    {
        using var gguf = GgufFile.Open(path);
        string arch = gguf.String("general.architecture") ?? "(none)";
        if (!Architectures.Contains(arch))
        {
            throw new InvalidDataException(arch == "bitnet"
                ? $"{path} is a 'bitnet' GGUF (1bitLLM's BitNet b1.58 models, with a SiLU feed-forward); the importer reads BitNet b1.58 2B4T's architecture (bitnet-b1.58 / bitnet-25, squared ReLU)."
                : $"{path} has general.architecture '{arch}'; the importer reads BitNet b1.58 GGUFs ({string.Join(", ", Architectures)}).");
        }

        var sizes = ReadSizes(gguf, arch);
        CheckNames(gguf, sizes.Layers);
        CheckOptionalTensors(gguf, sizes.HeadDim);
        var weights = ReadWeights(gguf, sizes);

        string? tokenizerPath = options.TokenizerPath;
        byte[]? generated = null;
        string note;
        if (tokenizerPath is not null)
        {
            note = $"{tokenizerPath} (--tokenizer)";
        }
        else
        {
            try
            {
                generated = GgufTokenizerJson.Write(gguf);
                note = "written from the GGUF vocabulary (tokenizer.ggml.*)";
            }
            catch (InvalidDataException) when (File.Exists(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, "tokenizer.json")))
            {
                tokenizerPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, "tokenizer.json");
                note = $"{tokenizerPath} (beside the GGUF, whose own vocabulary cannot be written as tokenizer.json)";
            }
        }

        return new ImportedBitNet
        {
            Form = CheckpointForm.Gguf,
            Config = ImportedConfig.Build(sizes, options, gguf.String("tokenizer.chat_template"), $"bitnet.cpp GGUF {Path.GetFullPath(path)}", path),
            Weights = weights,
            TokenizerPath = tokenizerPath,
            GeneratedTokenizer = generated,
            TokenizerNote = note,
            ScaleNote = "I2_S per-tensor scale multiplies the output",
            InputFiles = 1,
            InputBytes = gguf.Mapped.Length,
        };
    }

    private static CheckpointSizes ReadSizes(GgufFile gguf, string arch)
    {
        string path = gguf.Mapped.Path;
        int Int(string key, int? fallback = null) =>
            gguf.Integer($"{arch}.{key}") is { } value
                ? value is > 0 and <= int.MaxValue ? (int)value : throw new InvalidDataException($"{path}: {arch}.{key} is {value}.")
                : fallback ?? throw new InvalidDataException($"{path} has no {arch}.{key}.");

        string? scaling = gguf.String($"{arch}.rope.scaling.type");
        double factor = gguf.Number($"{arch}.rope.scaling.factor") ?? 1;
        if (scaling is not (null or "none") && !(scaling == "linear" && factor == 1))
        {
            throw new InvalidDataException($"{path}: {arch}.rope.scaling.type is '{scaling}' (factor {factor}); the importer supports plain RoPE only.");
        }

        var embedding = Tensor(gguf, "token_embd.weight");
        if (embedding.Dims.Length != 2)
        {
            throw new InvalidDataException($"{path}: token_embd.weight is {embedding.ShapeText}; an embedding is {{embedding_length, vocabulary}}.");
        }

        int hidden = Int("embedding_length");
        int heads = Int("attention.head_count");
        int headDim = Int("attention.key_length", heads > 0 ? hidden / heads : null);
        int rotary = Int("rope.dimension_count", headDim);
        if (rotary != headDim)
        {
            throw new InvalidDataException($"{path}: RoPE turns {rotary} of each head's {headDim} dimensions; the importer supports RoPE over the whole head.");
        }

        var eos = new List<int>();
        foreach (string key in (ReadOnlySpan<string>)["tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id"])
        {
            if (gguf.Integer(key) is { } id)
            {
                eos.Add(checked((int)id));
            }
        }

        return new CheckpointSizes(
            (int)embedding.Dims[1],
            hidden,
            Int("feed_forward_length"),
            Int("block_count"),
            heads,
            Int("attention.head_count_kv", heads),
            headDim,
            gguf.Number($"{arch}.rope.freq_base") ?? 10000,
            gguf.Number($"{arch}.attention.layer_norm_rms_epsilon") ?? throw new InvalidDataException($"{path} has no {arch}.attention.layer_norm_rms_epsilon."),
            Int("context_length"),
            gguf.Integer("tokenizer.ggml.bos_token_id") is { } bos ? checked((int)bos) : null,
            [.. eos]);
    }

    private static void CheckNames(GgufFile gguf, int layers)
    {
        foreach (string name in gguf.Tensors.Keys)
        {
            bool known = name is "token_embd.weight" or "output_norm.weight" or "output.weight" or "rope_freqs.weight"
                || (name.StartsWith("blk.", StringComparison.Ordinal) && name.EndsWith(".weight", StringComparison.Ordinal)
                    && name.Split('.') is [_, var layer, var tensor, _] && int.TryParse(layer, out int l) && l >= 0 && l < layers && LayerTensors.Contains(tensor));
            if (!known)
            {
                throw new InvalidDataException($"{gguf.Mapped.Path} holds tensor {name}, which BitNet b1.58 ({layers} layers) does not have: it is another architecture or a variant the importer does not support.");
            }
        }
    }

    /// <summary>
    /// Two optional tensors llama.cpp's loader accepts for these archs (ik_llama.cpp create_bitnet2_tensors): an
    /// output head (used instead of the embedding when present) and RoPE frequency factors. Our graph ties the head
    /// and runs plain RoPE, so they are accepted only when they change nothing: a head byte for byte equal to
    /// token_embd, factors that are all 1.
    /// </summary>
    private static void CheckOptionalTensors(GgufFile gguf, int headDim)
    {
        string path = gguf.Mapped.Path;
        if (gguf.Tensors.TryGetValue("output.weight", out var head))
        {
            var embedding = Tensor(gguf, "token_embd.weight");
            long bytes = GgmlType.Float(embedding.Type) is { } format ? embedding.Elements * FloatFormats.Size(format) : 0;
            bool tied = head.Type == embedding.Type && head.Dims.SequenceEqual(embedding.Dims) && bytes > 0 && head.Bytes(bytes).SequenceEqual(embedding.Bytes(bytes));
            if (!tied)
            {
                throw new InvalidDataException($"{path} has a separate output head (output.weight, {GgmlType.Describe(head.Type)} {head.ShapeText}) that differs from token_embd; our BitNet graph reads the head from the embedding (tied), so an untied head is not supported.");
            }
        }

        if (gguf.Tensors.TryGetValue("rope_freqs.weight", out var factors))
        {
            var values = ReadFloats(factors, [headDim / 2], "RoPE factors");
            if (values.Any(v => v != 1))
            {
                throw new InvalidDataException($"{path}: rope_freqs.weight scales RoPE's frequencies (factors {values.Min()} to {values.Max()}); the importer supports plain RoPE only.");
            }
        }
    }

    private static BitNetWeights ReadWeights(GgufFile gguf, CheckpointSizes s)
    {
        int attention = s.AttentionHeads * s.HeadDim;
        int kv = s.KvHeads * s.HeadDim;
        var layers = new BitNetLayer[s.Layers];
        for (int l = 0; l < s.Layers; l++)
        {
            TernaryMatrix Projection(string tensor, int rows, int columns) => ReadProjection(Tensor(gguf, $"blk.{l}.{tensor}.weight"), rows, columns);
            float[] Vector(string tensor, int length) => ReadFloats(Tensor(gguf, $"blk.{l}.{tensor}.weight"), [length], "norm");

            layers[l] = new BitNetLayer(
                Vector("attn_norm", s.HiddenSize),
                Projection("attn_q", attention, s.HiddenSize),
                Projection("attn_k", kv, s.HiddenSize),
                Projection("attn_v", kv, s.HiddenSize),
                Vector("attn_sub_norm", attention),
                Projection("attn_output", s.HiddenSize, attention),
                Vector("ffn_norm", s.HiddenSize),
                Projection("ffn_gate", s.IntermediateSize, s.HiddenSize),
                Projection("ffn_up", s.IntermediateSize, s.HiddenSize),
                Vector("ffn_sub_norm", s.IntermediateSize),
                Projection("ffn_down", s.HiddenSize, s.IntermediateSize));
        }

        var embedding = ReadFloats(Tensor(gguf, "token_embd.weight"), [s.HiddenSize, s.VocabSize], "embedding");
        var norm = ReadFloats(Tensor(gguf, "output_norm.weight"), [s.HiddenSize], "norm");
        return new BitNetWeights(embedding, layers, norm);
    }

    private static GgufTensor Tensor(GgufFile gguf, string name) =>
        gguf.Tensors.TryGetValue(name, out var tensor) ? tensor : throw new InvalidDataException($"{gguf.Mapped.Path} has no tensor {name}.");

    private static TernaryMatrix ReadProjection(GgufTensor tensor, int rows, int columns)
    {
        CheckShape(tensor, [columns, rows]);
        if (tensor.Type != GgmlType.I2S)
        {
            string hint = tensor.Type is GgmlType.TL1 or GgmlType.TL2
                ? " TL1/TL2 files are laid out for one machine's lookup-table kernel; use the model's i2_s GGUF."
                : "";
            throw new InvalidDataException($"{tensor.Name} is {GgmlType.Describe(tensor.Type)}; the importer reads ternary projections stored as I2_S (ggml type {GgmlType.I2S}).{hint}");
        }

        long weights = (long)rows * columns;
        return I2sWeights.Decode(tensor.Name, tensor.Bytes(I2sWeights.Bytes(weights)), rows, columns);
    }

    private static float[] ReadFloats(GgufTensor tensor, long[] dims, string what)
    {
        var format = GgmlType.Float(tensor.Type)
            ?? throw new InvalidDataException($"{tensor.Name} is {GgmlType.Describe(tensor.Type)}; the importer reads the {what} as F32, F16 or BF16 (dequantize it to one of those).");
        CheckShape(tensor, dims);
        return FloatFormats.Decode(tensor.Bytes(tensor.Elements * FloatFormats.Size(format)), format, tensor.Elements);
    }

    private static void CheckShape(GgufTensor tensor, long[] dims)
    {
        if (!tensor.Dims.SequenceEqual(dims))
        {
            throw new InvalidDataException($"{tensor.Name} is {tensor.ShapeText}; the model's metadata needs {{{string.Join(", ", dims)}}} (ne0 first).");
        }
    }
}
