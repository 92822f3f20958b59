using EdgeRuntime.Generation.Decoding;
using EdgeRuntime.Generation.Families.BitNet;
using EdgeRuntime.Generation.Folder;
using EdgeRuntime.Onnx;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Generation.Families.Lfm2;

/// <summary>
/// The static-shape export of an LFM2 decoder for NPUs (<see cref="StaticShapes"/>): every input and output has a fixed
/// size, batch 1, and only ops QNN's HTP compiles (no GroupQueryAttention, no custom ops). The nodes are built once and
/// forked into a prefill graph of <c>prefillChunk</c> tokens and a decode graph of one; their inputs and outputs
/// (<see cref="StaticNames"/>) differ only in that count.
/// <list type="bullet">
/// <item>Attention from MatMul, Softmax and an additive mask input: the chunk's keys and values are concatenated after
/// the whole cache ([kvHeads, capacity + chunk, headDim]); the mask hides the cache positions not yet written and the
/// chunk's later tokens. Queries are grouped [kvHeads, group, chunk, headDim] so each KV head serves its group
/// through MatMul's broadcast, with no copy of the cache per query head. RoPE is applied by Gather from cos/sin tables
/// at the position inputs (half rotation, as the dynamic graph's GroupQueryAttention does). The graph returns the new
/// keys and values only; the host writes them into its cache.</item>
/// <item>Conv layers as in the dynamic graph, except that the new state is taken at the last real token
/// (<c>last_index</c>), not at the end of a padded chunk.</item>
/// <item>The head (the tied embedding) is a projection like any other, so it is quantized the same way.</item>
/// </list>
/// </summary>
internal static class Lfm2StaticGraphBuilder
{
    /// <summary>Builds both graphs; returns them and the projections written (for calibration).</summary>
    /// <param name="calibration">Calibrated ranges for QDQ projections; null otherwise.</param>
    /// <param name="exposeActivations">Also output every projection's input and output (a calibration graph).</param>
    public static (OnnxModelBuilder Prefill, OnnxModelBuilder Decode, List<ProjectionActivations> Projections) Build(
        LanguageModelConfig config, Lfm2Weights weights, WeightFileWriter file, string weightsName, List<ProjectionError>? errors = null, ActivationCalibration.Result? calibration = null, bool exposeActivations = false)
    {
        var shapes = config.Static ?? throw new ArgumentException("A static-shape export needs the configuration's static section.", nameof(config));
        Lfm2Shapes.Check(config, weights);
        var graph = new OnnxModelBuilder(opset: 21, graphName: "lfm2_static");
        Action<string, float[], long[]> weight = (name, values, shape) => DecoderGraph.Weight(graph, file, weightsName, name, values, shape);
        var projections = new ProjectionWriter(graph, file, weightsName, config, calibration);

        DecoderGraph.Embedding(graph, config, weights.Embedding, file, weightsName);
        var (cos, sin) = RotaryTables.Compute(shapes.Capacity, config.HeadDim, config.RopeTheta);
        weight("rope.cos", cos, [shapes.Capacity, config.HeadDim / 2]);
        weight("rope.sin", sin, [shapes.Capacity, config.HeadDim / 2]);
        DeclareConstants(graph, config);
        DecoderGraph.DeclareRmsNormConstants(graph, (float)config.RmsNormEps);
        Rotary(graph, config);

        float epsilon = (float)config.RmsNormEps;
        string h = "h.0";
        for (int l = 0; l < config.Layers; l++)
        {
            var layer = weights.Layers[l];
            string p = $"layers.{l}.";
            weight(p + "operator_norm", layer.OperatorNorm, [config.HiddenSize]);
            Norm(graph, h, p + "operator_norm", p + "x", epsilon);
            switch (layer.Mixer)
            {
                case Lfm2Attention attention:
                    Attention(graph, projections, weight, config, l, attention);
                    break;

                case Lfm2Conv conv:
                    string window = Lfm2Blocks.Conv(graph, projections, weight, p, conv, p + "x", DecoderNames.PastConv(l), p + "mixed", config.HiddenSize);
                    graph.Node("Gather", [window, "conv.keep"], [DecoderNames.PresentConv(l)], OnnxDomains.Default, new NodeAttribute("axis", Int: 2));
                    break;

                default:
                    throw new ArgumentException($"layers.{l} has a mixer of type {layer.Mixer.GetType().Name}, which LFM2 does not have.");
            }

            graph.Node("Add", [h, p + "mixed"], [p + "h_mixed"]);
            string next = $"h.{l + 1}";
            Lfm2Blocks.FeedForward(graph, projections, weight, Norm, p, layer, p + "h_mixed", next, config);
            h = next;
        }

        // The head on the last real token only: Gather at last_index, [1, 1, hidden] → [1, hidden].
        weight("norm", weights.FinalNorm, [config.HiddenSize]);
        Norm(graph, h, "norm", "h.final", epsilon);
        graph.Node("Gather", ["h.final", StaticNames.LastIndex], ["h.last_3d"], OnnxDomains.Default, new NodeAttribute("axis", Int: 1))
            .Node("Reshape", ["h.last_3d", "row_shape"], ["h.last"]);
        projections.Head("h.last", "lm_head", new DenseMatrix(weights.Embedding, config.VocabSize, config.HiddenSize), DecoderNames.Logits);
        errors?.AddRange(projections.Errors);

        var prefill = graph.Fork();
        DeclareInterface(prefill, config, shapes.PrefillChunk, exposeActivations ? projections.Activations : null);
        DeclareInterface(graph, config, 1, exposeActivations ? projections.Activations : null);
        return (prefill, graph, projections.Activations);
    }

    /// <summary>RMSNorm from elementwise ops: QNN's provider (to 1.24) has no SimplifiedLayerNormalization.</summary>
    private static void Norm(OnnxModelBuilder graph, string input, string weight, string output, float epsilon) =>
        DecoderGraph.RmsNormFromPrimitives(graph, input, weight, output, epsilon);

    private static void DeclareConstants(OnnxModelBuilder graph, LanguageModelConfig config)
    {
        int d = config.HeadDim;
        int group = config.AttentionHeads / config.KvHeads;
        int queryWidth = config.AttentionHeads * d;
        int kvWidth = config.KvHeads * d;
        int convWidth = (config.ConvKernel ?? 1) - 1;
        Lfm2Blocks.DeclareConstants(graph, config);
        graph.Initializer("qkv_split", TensorDType.Int64, [3], [(long)queryWidth, kvWidth, kvWidth])
            .Initializer("half_split", TensorDType.Int64, [2], [(long)d / 2, d / 2])
            .Initializer("q_heads_shape", TensorDType.Int64, [4], [-1L, config.KvHeads, group, d])
            .Initializer("kv_heads_shape", TensorDType.Int64, [3], [-1L, config.KvHeads, d])
            .Initializer("cache_shape", TensorDType.Int64, [3], [(long)config.KvHeads, -1, d])
            .Initializer("attn_shape", TensorDType.Int64, [3], [1L, -1, queryWidth])
            .Initializer("row_shape", TensorDType.Int64, [2], [1L, config.HiddenSize])
            .Initializer("axis0", TensorDType.Int64, [1], [0L])
            .Initializer("axis1", TensorDType.Int64, [1], [1L])
            .Initializer("query_scale", TensorDType.Float32, [], [1f / MathF.Sqrt(d)])
            .Initializer("conv.offsets", TensorDType.Int32, [convWidth], Enumerable.Range(1, convWidth).ToArray())
            .Node("Add", [StaticNames.LastIndex, "conv.offsets"], ["conv.keep"]);
    }

    /// <summary>cos/sin at each token's position, shaped to broadcast over keys [chunk, kvHeads, d/2] and queries [chunk, kvHeads, group, d/2].</summary>
    private static void Rotary(OnnxModelBuilder graph, LanguageModelConfig config)
    {
        long half = config.HeadDim / 2;
        graph.Initializer("rope.k_shape", TensorDType.Int64, [3], [-1L, 1, half])
            .Initializer("rope.q_shape", TensorDType.Int64, [4], [-1L, 1, 1, half]);
        foreach (string table in new[] { "cos", "sin" })
        {
            graph.Node("Gather", ["rope." + table, StaticNames.PositionIds], [$"rope.{table}.at"])
                .Node("Reshape", [$"rope.{table}.at", "rope.k_shape"], [$"rope.{table}.k"])
                .Node("Reshape", [$"rope.{table}.at", "rope.q_shape"], [$"rope.{table}.q"]);
        }
    }

    private static void Attention(OnnxModelBuilder graph, ProjectionWriter projections, Action<string, float[], long[]> weight, LanguageModelConfig config, int l, Lfm2Attention attention)
    {
        string p = $"layers.{l}.";
        float epsilon = (float)config.RmsNormEps;
        weight(p + "q_norm", attention.QueryNorm, [config.HeadDim]);
        weight(p + "k_norm", attention.KeyNorm, [config.HeadDim]);
        projections.Linear(p + "x", p + "qkv_proj", DenseMatrix.Stack(attention.Query, attention.Key, attention.Value), p + "qkv");
        graph.Node("Split", [p + "qkv", "qkv_split"], [p + "q", p + "k", p + "v"], OnnxDomains.Default, new NodeAttribute("axis", Int: -1))

            // q: [1, chunk, heads·d] → [chunk, kvHeads, group, d] → norm, rotate, scale → [kvHeads, group, chunk, d].
            .Node("Reshape", [p + "q", "q_heads_shape"], [p + "q_heads"]);
        Norm(graph, p + "q_heads", p + "q_norm", p + "q_normed", epsilon);
        Rotate(graph, p + "q_normed", "q", p + "q_rotated");
        graph.Node("Mul", [p + "q_rotated", "query_scale"], [p + "q_scaled"])
            .Node("Transpose", [p + "q_scaled"], [p + "q_grouped"], OnnxDomains.Default, new NodeAttribute("perm", Ints: [1, 2, 0, 3]))

            // k, v: [1, chunk, kvHeads·d] → [chunk, kvHeads, d] → (k: norm, rotate) → [kvHeads, chunk, d], returned as [1, kvHeads, chunk, d].
            .Node("Reshape", [p + "k", "kv_heads_shape"], [p + "k_heads"]);
        Norm(graph, p + "k_heads", p + "k_norm", p + "k_normed", epsilon);
        Rotate(graph, p + "k_normed", "k", p + "k_rotated");
        graph.Node("Transpose", [p + "k_rotated"], [p + "k_new"], OnnxDomains.Default, new NodeAttribute("perm", Ints: [1, 0, 2]))
            .Node("Unsqueeze", [p + "k_new", "axis0"], [DecoderNames.PresentKey(l)])
            .Node("Reshape", [p + "v", "kv_heads_shape"], [p + "v_heads"])
            .Node("Transpose", [p + "v_heads"], [p + "v_new"], OnnxDomains.Default, new NodeAttribute("perm", Ints: [1, 0, 2]))
            .Node("Unsqueeze", [p + "v_new", "axis0"], [DecoderNames.PresentValue(l)])

            // The cache then the chunk: [kvHeads, capacity + chunk, d]; keys transposed for the scores.
            .Node("Reshape", [DecoderNames.PastKey(l), "cache_shape"], [p + "k_past"])
            .Node("Concat", [p + "k_past", p + "k_new"], [p + "k_all"], OnnxDomains.Default, new NodeAttribute("axis", Int: 1))
            .Node("Transpose", [p + "k_all"], [p + "k_all_t"], OnnxDomains.Default, new NodeAttribute("perm", Ints: [0, 2, 1]))
            .Node("Unsqueeze", [p + "k_all_t", "axis1"], [p + "k_shared"])
            .Node("Reshape", [DecoderNames.PastValue(l), "cache_shape"], [p + "v_past"])
            .Node("Concat", [p + "v_past", p + "v_new"], [p + "v_all"], OnnxDomains.Default, new NodeAttribute("axis", Int: 1))
            .Node("Unsqueeze", [p + "v_all", "axis1"], [p + "v_shared"])

            // [kvHeads, group, chunk, capacity + chunk] + mask → softmax → · v → [kvHeads, group, chunk, d] → [1, chunk, heads·d].
            .Node("MatMul", [p + "q_grouped", p + "k_shared"], [p + "scores"])
            .Node("Add", [p + "scores", StaticNames.AttentionMask], [p + "scores_masked"])
            .Node("Softmax", [p + "scores_masked"], [p + "probabilities"], OnnxDomains.Default, new NodeAttribute("axis", Int: -1))
            .Node("MatMul", [p + "probabilities", p + "v_shared"], [p + "context"])
            .Node("Transpose", [p + "context"], [p + "context_t"], OnnxDomains.Default, new NodeAttribute("perm", Ints: [2, 0, 1, 3]))
            .Node("Reshape", [p + "context_t", "attn_shape"], [p + "attn"]);
        projections.Linear(p + "attn", p + "out_proj", attention.Output, p + "mixed");
    }

    /// <summary>RoPE's half rotation over the last axis: (x1, x2) → (x1·cos − x2·sin, x2·cos + x1·sin).</summary>
    private static void Rotate(OnnxModelBuilder graph, string input, string tables, string output)
    {
        string cos = $"rope.cos.{tables}", sin = $"rope.sin.{tables}";
        graph.Node("Split", [input, "half_split"], [input + ".x1", input + ".x2"], OnnxDomains.Default, new NodeAttribute("axis", Int: -1))
            .Node("Mul", [input + ".x1", cos], [input + ".x1c"])
            .Node("Mul", [input + ".x2", sin], [input + ".x2s"])
            .Node("Sub", [input + ".x1c", input + ".x2s"], [input + ".r1"])
            .Node("Mul", [input + ".x2", cos], [input + ".x2c"])
            .Node("Mul", [input + ".x1", sin], [input + ".x1s"])
            .Node("Add", [input + ".x2c", input + ".x1s"], [input + ".r2"])
            .Node("Concat", [input + ".r1", input + ".r2"], [output], OnnxDomains.Default, new NodeAttribute("axis", Int: -1));
    }

    private static void DeclareInterface(OnnxModelBuilder graph, LanguageModelConfig config, int chunk, List<ProjectionActivations>? exposed)
    {
        var shapes = config.Static!;
        int capacity = shapes.Capacity;
        graph.Input(DecoderNames.InputIds, TensorDType.Int32, 1, chunk)
            .Input(StaticNames.PositionIds, TensorDType.Int32, 1, chunk)
            .Input(StaticNames.AttentionMask, TensorDType.Float32, 1, 1, chunk, capacity + chunk)
            .Input(StaticNames.LastIndex, TensorDType.Int32, 1);
        var attention = LayerKinds.Layers(config, LayerKinds.Attention);
        var conv = LayerKinds.Layers(config, LayerKinds.Conv);
        int width = (config.ConvKernel ?? 1) - 1;
        foreach (int l in attention)
        {
            graph.Input(DecoderNames.PastKey(l), TensorDType.Float32, 1, config.KvHeads, capacity, config.HeadDim)
                .Input(DecoderNames.PastValue(l), TensorDType.Float32, 1, config.KvHeads, capacity, config.HeadDim);
        }

        foreach (int l in conv)
        {
            graph.Input(DecoderNames.PastConv(l), TensorDType.Float32, 1, config.HiddenSize, width);
        }

        graph.Output(DecoderNames.Logits, TensorDType.Float32, 1, config.VocabSize);
        foreach (int l in attention)
        {
            graph.Output(DecoderNames.PresentKey(l), TensorDType.Float32, 1, config.KvHeads, chunk, config.HeadDim)
                .Output(DecoderNames.PresentValue(l), TensorDType.Float32, 1, config.KvHeads, chunk, config.HeadDim);
        }

        foreach (int l in conv)
        {
            graph.Output(DecoderNames.PresentConv(l), TensorDType.Float32, 1, config.HiddenSize, width);
        }

        foreach (var projection in exposed ?? [])
        {
            // The head's input is one row; every other projection's is the chunk's rows.
            Dim[] rows = projection.Input == "h.last" ? [1] : [1, chunk];
            graph.Output(projection.Input, TensorDType.Float32, [.. rows, projection.InFeatures]);
            if (projection.Output != DecoderNames.Logits)
            {
                graph.Output(projection.Output, TensorDType.Float32, [.. rows, projection.OutFeatures]);
            }
        }
    }
}
