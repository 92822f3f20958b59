using EdgeRuntime.Generation.Decoding;
using EdgeRuntime.Generation.Families.BitNet;
using EdgeRuntime.Generation.Folder;
using EdgeRuntime.Onnx;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Generation.Families.Lfm2;

/// <summary>
/// Builds an LFM2 hybrid decoder as an ONNX graph over the <see cref="DecoderNames"/> contract, from standard ONNX ops
/// and ORT's GroupQueryAttention only:
/// <list type="bullet">
/// <item>Conv layers: in_proj (MatMul) → Split into B, C, x → B·x → Concat with the layer's conv state along the
/// sequence → depthwise <c>Conv</c> (group = channels, no padding: the state is the causal padding) → C · conv →
/// out_proj. The new state is the window's last kernel − 1 columns (Slice), written in place like the KV cache.
/// Standard ops, not a custom op or ORT 1.32's CPU-only <c>CausalConvWithState</c>, so that the same graph can run on
/// any execution provider, QNN's HTP included (Concat, Conv, Slice and Transpose are all ops it compiles).</item>
/// <item>Attention layers: q, k, v in one MatMul, per-head RMSNorm of q and k (SimplifiedLayerNormalization over the
/// head, reshaped [batch, sequence, heads, headDim]), then GroupQueryAttention, which applies RoPE to the normalised
/// q and k and appends to the cache in place.</item>
/// <item>SwiGLU: w1 and w3 in one MatMul, silu(w1 x) = w1 x · sigmoid(w1 x), then w2.</item>
/// </list>
/// Projections are float32 MatMuls over weights stored transposed ([in, out]), or MatMulNBits over 4-bit blocks
/// (<see cref="ProjectionWriter"/>, as config.json's projectionFormat says).
/// </summary>
internal static class Lfm2GraphBuilder
{
    /// <param name="errors">Receives each quantized projection's weight error (none for float32 projections).</param>
    /// <param name="io">Our names (the default) or ONNX Runtime GenAI's (<see cref="GenAiFolderWriter"/>).</param>
    /// <param name="calibration">With int4 projections: the calibration run's Gram matrices, for GPTQ rounding (null: nearest).</param>
    public static OnnxModelBuilder Build(LanguageModelConfig config, Lfm2Weights weights, WeightFileWriter file, string weightsName, List<ProjectionError>? errors = null, DecoderIo? io = null, ActivationCalibration.Result? calibration = null)
    {
        io ??= DecoderIo.EdgeRuntime;
        Lfm2Shapes.Check(config, weights);
        var graph = new OnnxModelBuilder(opset: 17, graphName: "lfm2")
            .Opset(OnnxDomains.Microsoft, 1)
            .Opset(OnnxDomains.EdgeRuntime, 1);
        DecoderGraph.DeclareInterface(graph, config, io);

        void Weight(string name, float[] values, params long[] shape) => DecoderGraph.Weight(graph, file, weightsName, name, values, shape);
        Action<string, float[], long[]> weight = (name, values, shape) => Weight(name, values, shape);

        var projections = new ProjectionWriter(graph, file, weightsName, config, calibration);
        void Linear(string input, string name, DenseMatrix matrix, string output) => projections.Linear(input, name, matrix, output);

        var head = io.IsGenAi ? GenAiEmbedding(graph, config, weights.Embedding, file, weightsName, projections) : DecoderGraph.Embedding(graph, config, weights.Embedding, file, weightsName);
        if (!io.IsGenAi && config.HeadFormat == HeadFormats.Int4)
        {
            // The lookup keeps the table as stored; the head reads its own 4-bit copy.
            head = _ => projections.Int4("h.last", "lm_head", new DenseMatrix(weights.Embedding, config.VocabSize, config.HiddenSize), DecoderNames.Logits, HeadFormats.BlockSize(config));
        }

        var (cos, sin) = RotaryTables.Compute(config.ContextLength, config.HeadDim, config.RopeTheta);
        Weight("rope.cos", cos, config.ContextLength, config.HeadDim / 2);
        Weight("rope.sin", sin, config.ContextLength, config.HeadDim / 2);

        float epsilon = (float)config.RmsNormEps;
        int hidden = config.HiddenSize;
        int queryWidth = config.AttentionHeads * config.HeadDim;
        int kvWidth = config.KvHeads * config.HeadDim;
        int convWidth = (config.ConvKernel ?? 1) - 1;
        Lfm2Blocks.DeclareConstants(graph, config);
        graph.Initializer("qkv_split", TensorDType.Int64, [3], [(long)queryWidth, kvWidth, kvWidth]);
        graph.Initializer("heads_shape", TensorDType.Int64, [4], [0L, 0, -1, config.HeadDim]);
        graph.Initializer("flat_shape", TensorDType.Int64, [3], [0L, 0, -1]);
        graph.Initializer("state_start", TensorDType.Int64, [1], [(long)-convWidth]);
        graph.Initializer("state_end", TensorDType.Int64, [1], [long.MaxValue]);
        graph.Initializer("sequence_axis", TensorDType.Int64, [1], [2L]);

        string h = "h.0";
        for (int l = 0; l < config.Layers; l++)
        {
            var layer = weights.Layers[l];
            string p = $"layers.{l}.";
            Weight(p + "operator_norm", layer.OperatorNorm, hidden);
            DecoderGraph.RmsNorm(graph, h, p + "operator_norm", p + "x", epsilon);
            switch (layer.Mixer)
            {
                case Lfm2Attention attention:
                    Weight(p + "q_norm", attention.QueryNorm, config.HeadDim);
                    Weight(p + "k_norm", attention.KeyNorm, config.HeadDim);
                    Linear(p + "x", p + "qkv_proj", DenseMatrix.Stack(attention.Query, attention.Key, attention.Value), p + "qkv");
                    graph.Node("Split", [p + "qkv", "qkv_split"], [p + "q", p + "k", p + "v"], OnnxDomains.Default, new NodeAttribute("axis", Int: -1));
                    HeadNorm(graph, p + "q", p + "q_norm", p + "q_normed", epsilon);
                    HeadNorm(graph, p + "k", p + "k_norm", p + "k_normed", epsilon);
                    DecoderGraph.Attention(graph, config, io, l, p + "q_normed", p + "k_normed", p + "v", p + "attn");
                    Linear(p + "attn", p + "out_proj", attention.Output, p + "mixed");
                    break;

                case Lfm2Conv conv:
                    string window = Lfm2Blocks.Conv(graph, projections, weight, p, conv, p + "x", io.PastConv(l), p + "mixed", hidden);
                    graph.Node("Slice", [window, "state_start", "state_end", "sequence_axis"], [io.PresentConv(l)]);
                    break;

                default:
                    throw new ArgumentException($"layers.{l} has a mixer of type {layer.Mixer.GetType().Name}, which LFM2 does not have.");
            }

            graph.Node("Add", [h, p + "mixed"], [p + "h_mixed"]);
            string next = $"h.{l + 1}";
            Lfm2Blocks.FeedForward(graph, projections, weight, DecoderGraph.RmsNorm, p, layer, p + "h_mixed", next, config);
            h = next;
        }

        DecoderGraph.FinalNormAndHead(graph, file, weightsName, config, h, weights.FinalNorm, head);
        errors?.AddRange(projections.Errors);
        return graph;
    }

    /// <summary>
    /// GenAI's form of the tied embedding as its model builder writes an INT4 model without shared embeddings: a float32
    /// Gather for the lookup, and the head as its own int4 MatMulNBits over the same table, on the last position only,
    /// shaped [batch, 1, vocab].
    /// </summary>
    private static Action<OnnxModelBuilder> GenAiEmbedding(OnnxModelBuilder graph, LanguageModelConfig config, float[] table, WeightFileWriter file, string weightsName, ProjectionWriter projections)
    {
        DecoderGraph.Weight(graph, file, weightsName, "model.embed_tokens.weight", table, config.VocabSize, config.HiddenSize);
        graph.Node("Gather", ["model.embed_tokens.weight", DecoderNames.InputIds], ["h.0"]);
        return g =>
        {
            projections.Linear("h.last", "lm_head.weight", new DenseMatrix(table, config.VocabSize, config.HiddenSize), "logits.2d");
            g.Initializer("logits.axis", TensorDType.Int64, [1], [1L])
                .Node("Unsqueeze", ["logits.2d", "logits.axis"], [DecoderNames.Logits]);
        };
    }

    /// <summary>RMSNorm over each head of a [batch, sequence, heads · headDim] tensor, with one weight of headDim shared by all heads.</summary>
    private static void HeadNorm(OnnxModelBuilder graph, string input, string weight, string output, float epsilon)
    {
        graph.Node("Reshape", [input, "heads_shape"], [input + "_heads"]);
        DecoderGraph.RmsNorm(graph, input + "_heads", weight, input + "_heads_normed", epsilon);
        graph.Node("Reshape", [input + "_heads_normed", "flat_shape"], [output]);
    }
}
