using EdgeRuntime.Generation.Decoding;
using EdgeRuntime.Generation.Folder;
using EdgeRuntime.Kernels.Int8;
using EdgeRuntime.Onnx;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Generation.Families;

/// <summary>
/// The parts every family's decoder graph shares: the <see cref="DecoderNames"/> inputs and outputs (a KV cache for each
/// attention layer, a conv state for each conv layer), RMSNorm, the token embedding with its tied head, and the head
/// applied to each sequence's last position only.
/// </summary>
internal static class DecoderGraph
{
    /// <summary>Writes an RMSNorm node (or nodes) from input and weight into output.</summary>
    public delegate void NormWriter(OnnxModelBuilder graph, string input, string weight, string output, float epsilon);

    private const string Capacity = "capacity";
    private const string Batch = "batch";
    private const string Sequence = "sequence";

    /// <summary>Declares the graph's inputs and outputs for <paramref name="config"/>'s layers, with our names or GenAI's.</summary>
    public static void DeclareInterface(OnnxModelBuilder graph, LanguageModelConfig config, DecoderIo? io = null)
    {
        io ??= DecoderIo.EdgeRuntime;
        graph.Input(DecoderNames.InputIds, TensorDType.Int64, Dim.Named(Batch), Dim.Named(Sequence));
        if (io.IsGenAi)
        {
            // GenAI passes a mask and the graph derives what GroupQueryAttention takes (as its model builder writes it):
            // seqlens_k = Σ mask − 1 per sequence, total_sequence_length = the mask's width.
            graph.Input(DecoderIo.AttentionMask, TensorDType.Int64, Dim.Named(Batch), Dim.Named("total_sequence_length"));
            graph.Initializer("mask.axis", TensorDType.Int64, [1], [1L])
                .Initializer("mask.one", TensorDType.Int64, [], [1L])
                .Node("ReduceSum", [DecoderIo.AttentionMask, "mask.axis"], ["mask.lengths"], OnnxDomains.Default, new NodeAttribute("keepdims", Int: 0))
                .Node("Sub", ["mask.lengths", "mask.one"], ["mask.last"])
                .Node("Cast", ["mask.last"], [DecoderNames.SeqLensK], OnnxDomains.Default, new NodeAttribute("to", Int: OnnxDataType.Int32))
                .Node("Shape", [DecoderIo.AttentionMask], ["mask.shape"])
                .Node("Gather", ["mask.shape", "mask.one"], ["mask.width"], OnnxDomains.Default, new NodeAttribute("axis", Int: 0))
                .Node("Cast", ["mask.width"], [DecoderNames.TotalSequenceLength], OnnxDomains.Default, new NodeAttribute("to", Int: OnnxDataType.Int32));
        }
        else
        {
            graph.Input(DecoderNames.SeqLensK, TensorDType.Int32, Dim.Named(Batch))
                .Input(DecoderNames.TotalSequenceLength, TensorDType.Int32);
            if (config.Vision is not null)
            {
                graph.Input(DecoderNames.PrefixEmbeds, TensorDType.Float32, Dim.Named(Batch), Dim.Named("prefix"), config.HiddenSize);
            }
        }

        var attention = LayerKinds.Layers(config, LayerKinds.Attention);
        var conv = LayerKinds.Layers(config, LayerKinds.Conv);
        int width = (config.ConvKernel ?? 1) - 1;
        foreach (int l in attention)
        {
            graph.Input(io.PastKey(l), TensorDType.Float32, Dim.Named(Batch), config.KvHeads, Dim.Named(Capacity), config.HeadDim)
                .Input(io.PastValue(l), TensorDType.Float32, Dim.Named(Batch), config.KvHeads, Dim.Named(Capacity), config.HeadDim);
        }

        foreach (int l in conv)
        {
            graph.Input(io.PastConv(l), TensorDType.Float32, Dim.Named(Batch), config.HiddenSize, width);
        }

        if (config.DeltaAttention is not null)
        {
            int queryWidth = config.AttentionHeads * config.HeadDim, kvWidth = config.KvHeads * config.HeadDim;
            graph.Initializer("delta.qkv_split", TensorDType.Int64, [3], [(long)queryWidth, kvWidth, kvWidth]);
            foreach (int l in attention)
            {
                graph.Input(DecoderNames.PastDeltaQuery(l), TensorDType.Float32, Dim.Named(Batch), config.AttentionHeads, config.HeadDim)
                    .Input(DecoderNames.PastDeltaScores(l), TensorDType.Float32, Dim.Named(Batch), config.AttentionHeads, Dim.Named(Capacity))
                    .Input(DecoderNames.PastDeltaStats(l), TensorDType.Int64, 2);
            }
        }

        if (io.IsGenAi)
        {
            // [batch, 1, vocab]: the static 1 tells GenAI the head ran on the last position only (a pruned head).
            graph.Output(DecoderNames.Logits, TensorDType.Float32, Dim.Named(Batch), 1, config.VocabSize);
        }
        else
        {
            graph.Output(DecoderNames.Logits, TensorDType.Float32, Dim.Named(Batch), config.VocabSize);
        }

        foreach (int l in attention)
        {
            graph.Output(io.PresentKey(l), TensorDType.Float32, Dim.Named(Batch), config.KvHeads, Dim.Named(Capacity), config.HeadDim)
                .Output(io.PresentValue(l), TensorDType.Float32, Dim.Named(Batch), config.KvHeads, Dim.Named(Capacity), config.HeadDim);
        }

        foreach (int l in conv)
        {
            graph.Output(io.PresentConv(l), TensorDType.Float32, Dim.Named(Batch), config.HiddenSize, width);
        }

        if (config.DeltaAttention is not null)
        {
            foreach (int l in attention)
            {
                graph.Output(DecoderNames.PresentDeltaQuery(l), TensorDType.Float32, Dim.Named(Batch), config.AttentionHeads, config.HeadDim)
                    .Output(DecoderNames.PresentDeltaScores(l), TensorDType.Float32, Dim.Named(Batch), config.AttentionHeads, Dim.Named(Capacity))
                    .Output(DecoderNames.PresentDeltaStats(l), TensorDType.Int64, 2);
            }
        }
    }

    /// <summary>
    /// Attention layer <paramref name="layer"/>: ORT's GroupQueryAttention (RoPE inside, the cache appended in place), or
    /// with config.deltaAttention our DeltaAttention over the same inputs plus its state. <paramref name="key"/> and
    /// <paramref name="value"/> null means <paramref name="query"/> holds q, k and v packed per token.
    /// </summary>
    public static void Attention(OnnxModelBuilder graph, LanguageModelConfig config, DecoderIo io, int layer, string query, string? key, string? value, string output)
    {
        if (config.DeltaAttention is { } delta)
        {
            if (key is null || value is null)
            {
                graph.Node("Split", [query, "delta.qkv_split"], [query + ".q", query + ".k", query + ".v"], OnnxDomains.Default, new NodeAttribute("axis", Int: -1));
                (query, key, value) = (query + ".q", query + ".k", query + ".v");
            }

            graph.Node(
                "DeltaAttention",
                [query, key, value, io.PastKey(layer), io.PastValue(layer), DecoderNames.SeqLensK, DecoderNames.TotalSequenceLength, "rope.cos", "rope.sin", DecoderNames.PastDeltaQuery(layer), DecoderNames.PastDeltaScores(layer), DecoderNames.PastDeltaStats(layer)],
                [output, io.PresentKey(layer), io.PresentValue(layer), DecoderNames.PresentDeltaQuery(layer), DecoderNames.PresentDeltaScores(layer), DecoderNames.PresentDeltaStats(layer)],
                OnnxDomains.EdgeRuntime,
                new NodeAttribute("num_heads", Int: config.AttentionHeads),
                new NodeAttribute("kv_num_heads", Int: config.KvHeads),
                new NodeAttribute("window", Int: delta.Window),
                new NodeAttribute("threshold", Float: (float)delta.Threshold));
            return;
        }

        graph.Node(
            "GroupQueryAttention",
            [query, key ?? string.Empty, value ?? string.Empty, io.PastKey(layer), io.PastValue(layer), DecoderNames.SeqLensK, DecoderNames.TotalSequenceLength, "rope.cos", "rope.sin"],
            [output, io.PresentKey(layer), io.PresentValue(layer)],
            OnnxDomains.Microsoft,
            new NodeAttribute("num_heads", Int: config.AttentionHeads),
            new NodeAttribute("kv_num_heads", Int: config.KvHeads),
            new NodeAttribute("do_rotary", Int: 1),
            new NodeAttribute("rotary_interleaved", Int: 0));
    }

    /// <summary>A float32 tensor appended to the weights file and named as the graph's external initializer.</summary>
    public static void Weight(OnnxModelBuilder graph, WeightFileWriter file, string weightsName, string name, float[] values, params long[] shape) =>
        graph.ExternalInitializer(name, TensorDType.Float32, shape, weightsName, file.Append<float>(values), values.LongLength * sizeof(float));

    public static void RmsNorm(OnnxModelBuilder graph, string input, string weight, string output, float epsilon) =>
        graph.Node("SimplifiedLayerNormalization", [input, weight], [output], OnnxDomains.Default, new NodeAttribute("axis", Int: -1), new NodeAttribute("epsilon", Float: epsilon));

    /// <summary>
    /// RMSNorm over the last axis from elementwise ops and ReduceMean, x / sqrt(mean(x²) + ε) · w, for graphs meant for
    /// providers without ORT's SimplifiedLayerNormalization (QNN's before onnxruntime-qnn 2.x). Needs opset 18 or later
    /// (ReduceMean's axes as an input) and the "norm.axes" constant from <see cref="DeclareRmsNormConstants"/>.
    /// </summary>
    public static void RmsNormFromPrimitives(OnnxModelBuilder graph, string input, string weight, string output, float epsilon)
    {
        string epsilonName = "norm.epsilon." + BitConverter.SingleToInt32Bits(epsilon).ToString(System.Globalization.CultureInfo.InvariantCulture);
        graph.Node("Mul", [input, input], [input + ".sq"])
            .Node("ReduceMean", [input + ".sq", "norm.axes"], [input + ".ms"], OnnxDomains.Default, new NodeAttribute("keepdims", Int: 1))
            .Node("Add", [input + ".ms", epsilonName], [input + ".ms_eps"])
            .Node("Sqrt", [input + ".ms_eps"], [input + ".rms"])
            .Node("Div", [input, input + ".rms"], [input + ".unit"])
            .Node("Mul", [input + ".unit", weight], [output]);
    }

    /// <summary>The constants <see cref="RmsNormFromPrimitives"/> reads for <paramref name="epsilon"/>.</summary>
    public static void DeclareRmsNormConstants(OnnxModelBuilder graph, float epsilon) =>
        graph.Initializer("norm.axes", TensorDType.Int64, [1], [-1L])
            .Initializer("norm.epsilon." + BitConverter.SingleToInt32Bits(epsilon).ToString(System.Globalization.CultureInfo.InvariantCulture), TensorDType.Float32, [], [epsilon]);

    /// <summary>
    /// The final norm over <paramref name="hidden"/>, then the head on each sequence's last position only: the logits
    /// of a 256-token prefill chunk are one row, not 256.
    /// </summary>
    public static void FinalNormAndHead(OnnxModelBuilder graph, WeightFileWriter file, string weightsName, LanguageModelConfig config, string hidden, float[] finalNorm, Action<OnnxModelBuilder> head)
    {
        Weight(graph, file, weightsName, "norm", finalNorm, config.HiddenSize);
        RmsNorm(graph, hidden, "norm", "h.final", (float)config.RmsNormEps);
        graph.Initializer("last_position", TensorDType.Int64, [], [-1L]);
        graph.Node("Gather", ["h.final", "last_position"], ["h.last"], OnnxDomains.Default, new NodeAttribute("axis", Int: 1));
        head(graph);
    }

    /// <summary>
    /// The token embedding (input "h.0" from the token ids) and, returned, the tied head that turns "h.last" into the
    /// logits over the same table (no copy of it). Int8 tables are looked up as codes and widened times the row's scale,
    /// and the head is our Int8RowLinear; float32 tables use Gather and a Gemm read transposed.
    /// </summary>
    public static Action<OnnxModelBuilder> Embedding(OnnxModelBuilder graph, LanguageModelConfig config, float[] table, WeightFileWriter file, string weightsName)
    {
        // A vision-language graph looks the tokens up into "h.tokens" and puts prefix_embeds (an image's, or none) before them.
        string looked = config.Vision is null ? "h.0" : "h.tokens";
        var head = Embedding(graph, config, table, file, weightsName, looked);
        if (config.Vision is not null)
        {
            graph.Node("Concat", [DecoderNames.PrefixEmbeds, looked], ["h.0"], OnnxDomains.Default, new NodeAttribute("axis", Int: 1));
        }

        return head;
    }

    private static Action<OnnxModelBuilder> Embedding(OnnxModelBuilder graph, LanguageModelConfig config, float[] table, WeightFileWriter file, string weightsName, string output)
    {
        long vocab = config.VocabSize;
        long hidden = config.HiddenSize;
        if (config.EmbeddingFormat == EmbeddingFormats.Float32)
        {
            graph.ExternalInitializer("embed_tokens", TensorDType.Float32, [vocab, hidden], weightsName, file.Append<float>(table), table.LongLength * sizeof(float));
            graph.Node("Gather", ["embed_tokens", DecoderNames.InputIds], [output]);
            return g => g.Node("Gemm", ["h.last", "embed_tokens"], [DecoderNames.Logits], OnnxDomains.Default, new NodeAttribute("transB", Int: 1));
        }

        if (config.EmbeddingFormat != EmbeddingFormats.Int8)
        {
            throw new ArgumentException($"embeddingFormat is \"{config.EmbeddingFormat}\"; it must be one of {string.Join(", ", EmbeddingFormats.All)}.");
        }

        var codes = new sbyte[table.LongLength];
        var scales = new float[vocab];
        Int8Rows.Quantize(table, config.VocabSize, config.HiddenSize, codes, scales);
        graph.ExternalInitializer("embed_tokens.codes", TensorDType.Int8, [vocab, hidden], weightsName, file.Append<sbyte>(codes), codes.LongLength);
        graph.ExternalInitializer("embed_tokens.scales", TensorDType.Float32, [vocab], weightsName, file.Append<float>(scales), scales.LongLength * sizeof(float));
        graph.Initializer("last_axis", TensorDType.Int64, [1], [-1L]);
        graph.Node("Gather", ["embed_tokens.codes", DecoderNames.InputIds], ["embed.codes"])
            .Node("Cast", ["embed.codes"], ["embed.widened"], OnnxDomains.Default, new NodeAttribute("to", Int: OnnxDataType.Float))
            .Node("Gather", ["embed_tokens.scales", DecoderNames.InputIds], ["embed.row_scales"])
            .Node("Unsqueeze", ["embed.row_scales", "last_axis"], ["embed.row_scales_1"])
            .Node("Mul", ["embed.widened", "embed.row_scales_1"], [output]);
        return g => g.Node("Int8RowLinear", ["h.last", "embed_tokens.codes", "embed_tokens.scales"], [DecoderNames.Logits], OnnxDomains.EdgeRuntime);
    }
}
