using EdgeRuntime.Generation.Folder;
using EdgeRuntime.Onnx;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Generation.Families.Lfm2;

/// <summary>
/// The parts of an LFM2 layer that the dynamic graph (<see cref="Lfm2GraphBuilder"/>) and the static-shape export
/// (<see cref="Lfm2StaticGraphBuilder"/>) build alike: the gated short convolution up to its new state, and the SwiGLU
/// feed-forward with its norm and residual.
/// </summary>
internal static class Lfm2Blocks
{
    /// <summary>The constants <see cref="Conv"/> and <see cref="FeedForward"/> refer to, declared once per graph.</summary>
    public static void DeclareConstants(OnnxModelBuilder graph, LanguageModelConfig config)
    {
        long hidden = config.HiddenSize;
        graph.Initializer("ffn_split", TensorDType.Int64, [2], [(long)config.IntermediateSize, config.IntermediateSize]);
        graph.Initializer("conv_split", TensorDType.Int64, [3], [hidden, hidden, hidden]);
    }

    /// <summary>
    /// in_proj → Split into B, C, x → B·x → Concat after the layer's conv state along the sequence (the returned window,
    /// [batch, hidden, kernel − 1 + sequence], which the caller takes the new state from) → depthwise Conv (group =
    /// channels, no padding: the state is the causal padding) → C · conv → out_proj into <paramref name="output"/>.
    /// </summary>
    public static string Conv(OnnxModelBuilder graph, ProjectionWriter projections, Action<string, float[], long[]> weight, string p, Lfm2Conv conv, string input, string pastConv, string output, int hidden)
    {
        weight(p + "conv.kernel", conv.Kernel, [hidden, 1, conv.Width]);
        projections.Linear(input, p + "in_proj", conv.InProjection, p + "bcx");
        graph.Node("Split", [p + "bcx", "conv_split"], [p + "b", p + "c", p + "xx"], OnnxDomains.Default, new NodeAttribute("axis", Int: -1))
            .Node("Mul", [p + "b", p + "xx"], [p + "bx"])
            .Node("Transpose", [p + "bx"], [p + "bx_t"], OnnxDomains.Default, new NodeAttribute("perm", Ints: [0, 2, 1]))
            .Node("Concat", [pastConv, p + "bx_t"], [p + "window"], OnnxDomains.Default, new NodeAttribute("axis", Int: 2))
            .Node("Conv", [p + "window", p + "conv.kernel"], [p + "conv_t"], OnnxDomains.Default, new NodeAttribute("group", Int: hidden))
            .Node("Transpose", [p + "conv_t"], [p + "conv"], OnnxDomains.Default, new NodeAttribute("perm", Ints: [0, 2, 1]))
            .Node("Mul", [p + "c", p + "conv"], [p + "gated"]);
        projections.Linear(p + "gated", p + "out_proj", conv.OutProjection, output);
        return p + "window";
    }

    /// <summary>h_mixed + w2(silu(w1 y) · w3 y) with y = RMSNorm(h_mixed; ffn_norm), into <paramref name="output"/>.</summary>
    public static void FeedForward(OnnxModelBuilder graph, ProjectionWriter projections, Action<string, float[], long[]> weight, DecoderGraph.NormWriter norm, string p, Lfm2Layer layer, string mixed, string output, LanguageModelConfig config)
    {
        weight(p + "ffn_norm", layer.FeedForwardNorm, [config.HiddenSize]);
        norm(graph, mixed, p + "ffn_norm", p + "y", (float)config.RmsNormEps);
        projections.Linear(p + "y", p + "w1_w3", DenseMatrix.Stack(layer.W1, layer.W3), p + "gate_up");
        graph.Node("Split", [p + "gate_up", "ffn_split"], [p + "gate", p + "up"], OnnxDomains.Default, new NodeAttribute("axis", Int: -1))
            .Node("Sigmoid", [p + "gate"], [p + "gate_sigmoid"])
            .Node("Mul", [p + "gate", p + "gate_sigmoid"], [p + "gate_silu"])
            .Node("Mul", [p + "gate_silu", p + "up"], [p + "ffn_in"]);
        projections.Linear(p + "ffn_in", p + "w2", layer.W2, p + "ffn_out");
        graph.Node("Add", [mixed, p + "ffn_out"], [output]);
    }
}
