using EdgeRuntime.Generation.Decoding;
using EdgeRuntime.Generation.Folder;
using EdgeRuntime.Kernels.Ternary;
using EdgeRuntime.Onnx;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Generation.Families.BitNet;

/// <summary>
/// Builds BitNet b1.58's decoder as an ONNX graph over the <see cref="DecoderNames"/> contract: every projection is our
/// <c>ai.edgeruntime::BitLinear</c> (ternary weights, per-token int8 activations), RMSNorm is ORT's
/// SimplifiedLayerNormalization, and attention is ORT's GroupQueryAttention with RoPE applied inside it and the KV cache
/// shared between past and present (written in place). Weights go to the folder's weights file as external data, the
/// ternary ones in the chosen <see cref="TernaryLayout"/> (2 bits a weight, or five weights a byte).
/// </summary>
internal static class BitNetGraphBuilder
{
    public static OnnxModelBuilder Build(LanguageModelConfig config, BitNetWeights weights, WeightFileWriter file, string weightsName, TernaryLayout layout = TernaryLayout.FourPerByte)
    {
        Validate(config, weights);
        var graph = new OnnxModelBuilder(opset: 17, graphName: "bitnet_b1_58")
            .Opset(OnnxDomains.Microsoft, 1)
            .Opset(OnnxDomains.EdgeRuntime, 1);

        void Weight(string name, float[] values, params long[] shape) => DecoderGraph.Weight(graph, file, weightsName, name, values, shape);

        // A matrix's bytes in the folder's layout (the matrices arrive in the 2-bit one).
        byte[] Packed(TernaryMatrix matrix) =>
            layout == TernaryLayout.FivePerByte ? TritPacking.FromTwoBit(matrix.Packed, matrix.Rows, matrix.Columns) : matrix.Packed;

        void Ternary(string name, TernaryMatrix matrix)
        {
            byte[] packed = Packed(matrix);
            long offset = file.Append<byte>(packed);
            graph.ExternalInitializer(name, TensorDType.UInt8, layout.WeightShape(matrix.Rows, matrix.Columns), weightsName, offset, packed.LongLength);
            graph.Initializer(name + ".beta", TensorDType.Float32, [1], [matrix.Beta]);
        }

        // Projections of the same input stacked into one BitLinear: their rows one after another, each row with its
        // own matrix's β. The input is quantized once and the op is one parallel section instead of several.
        void Stacked(string name, params TernaryMatrix[] matrices)
        {
            byte[] packed = [.. matrices.SelectMany(Packed)];
            float[] betas = [.. matrices.SelectMany(m => Enumerable.Repeat(m.Beta, m.Rows))];
            long offset = file.Append<byte>(packed);
            graph.ExternalInitializer(name, TensorDType.UInt8, layout.WeightShape(betas.Length, matrices[0].Columns), weightsName, offset, packed.LongLength);
            Weight(name + ".beta", betas, betas.Length);
        }

        DecoderGraph.DeclareInterface(graph, config);
        var head = DecoderGraph.Embedding(graph, config, weights.Embedding, file, weightsName);
        var (cos, sin) = RotaryTables.Compute(config.ContextLength, config.HeadDim, config.RopeTheta);
        Weight("rope.cos", cos, config.ContextLength, config.HeadDim / 2);
        Weight("rope.sin", sin, config.ContextLength, config.HeadDim / 2);

        float epsilon = (float)config.RmsNormEps;
        graph.Initializer("ffn_split", TensorDType.Int64, [2], [(long)config.IntermediateSize, config.IntermediateSize]);
        string h = "h.0";
        for (int l = 0; l < config.Layers; l++)
        {
            var layer = weights.Layers[l];
            string p = $"layers.{l}.";
            Weight(p + "attn_norm", layer.AttentionNorm, config.HiddenSize);
            Weight(p + "attn_sub_norm", layer.AttentionSubNorm, config.AttentionHeads * config.HeadDim);
            Weight(p + "ffn_norm", layer.FeedForwardNorm, config.HiddenSize);
            Weight(p + "ffn_sub_norm", layer.FeedForwardSubNorm, config.IntermediateSize);
            Stacked(p + "qkv_proj", layer.Query, layer.Key, layer.Value);
            Ternary(p + "o_proj", layer.Output);
            Stacked(p + "gate_up_proj", layer.Gate, layer.Up);
            Ternary(p + "down_proj", layer.Down);

            // q, k and v in one BitLinear; GroupQueryAttention takes them packed ([q | k | v] per token).
            RmsNorm(graph, h, p + "attn_norm", p + "x", epsilon);
            BitLinear(graph, p + "x", p + "qkv_proj", p + "qkv", layout);
            DecoderGraph.Attention(graph, config, DecoderIo.EdgeRuntime, l, p + "qkv", key: null, value: null, p + "attn");
            RmsNorm(graph, p + "attn", p + "attn_sub_norm", p + "attn_normed", epsilon);
            BitLinear(graph, p + "attn_normed", p + "o_proj", p + "o", layout);
            graph.Node("Add", [h, p + "o"], [p + "h_attn"]);

            RmsNorm(graph, p + "h_attn", p + "ffn_norm", p + "y", epsilon);
            BitLinear(graph, p + "y", p + "gate_up_proj", p + "gate_up", layout);
            graph.Node("Split", [p + "gate_up", "ffn_split"], [p + "gate", p + "up"], OnnxDomains.Default, new NodeAttribute("axis", Int: -1));
            graph.Node("Relu", [p + "gate"], [p + "gate_relu"]);
            graph.Node("Mul", [p + "gate_relu", p + "gate_relu"], [p + "gate_sq"]);
            graph.Node("Mul", [p + "gate_sq", p + "up"], [p + "ffn_in"]);
            RmsNorm(graph, p + "ffn_in", p + "ffn_sub_norm", p + "ffn_normed", epsilon);
            BitLinear(graph, p + "ffn_normed", p + "down_proj", p + "down", layout);
            string next = $"h.{l + 1}";
            graph.Node("Add", [p + "h_attn", p + "down"], [next]);
            h = next;
        }

        DecoderGraph.FinalNormAndHead(graph, file, weightsName, config, h, weights.FinalNorm, head);
        return graph;
    }

    private static void RmsNorm(OnnxModelBuilder graph, string input, string weight, string output, float epsilon) =>
        DecoderGraph.RmsNorm(graph, input, weight, output, epsilon);

    private static void BitLinear(OnnxModelBuilder graph, string input, string weight, string output, TernaryLayout layout) =>
        graph.Node("BitLinear", [input, weight, weight + ".beta"], [output], OnnxDomains.EdgeRuntime, layout.NodeAttributes());

    private static void Validate(LanguageModelConfig config, BitNetWeights weights)
    {
        int hidden = config.HiddenSize;
        int attention = config.AttentionHeads * config.HeadDim;
        int kv = config.KvHeads * config.HeadDim;
        Check(weights.Embedding.LongLength == (long)config.VocabSize * hidden, "embed_tokens", weights.Embedding.LongLength, (long)config.VocabSize * hidden);
        Check(weights.FinalNorm.Length == hidden, "norm", weights.FinalNorm.Length, hidden);
        Check(weights.Layers.Length == config.Layers, "layers", weights.Layers.Length, config.Layers);
        if (config.AttentionHeads % config.KvHeads != 0 || config.HeadDim % 2 != 0)
        {
            throw new ArgumentException($"{config.AttentionHeads} query heads must be a multiple of {config.KvHeads} KV heads, and the head size ({config.HeadDim}) even.");
        }

        for (int l = 0; l < weights.Layers.Length; l++)
        {
            var layer = weights.Layers[l];
            Shape(l, "q_proj", layer.Query, attention, hidden);
            Shape(l, "k_proj", layer.Key, kv, hidden);
            Shape(l, "v_proj", layer.Value, kv, hidden);
            Shape(l, "o_proj", layer.Output, hidden, attention);
            Shape(l, "gate_proj", layer.Gate, config.IntermediateSize, hidden);
            Shape(l, "up_proj", layer.Up, config.IntermediateSize, hidden);
            Shape(l, "down_proj", layer.Down, hidden, config.IntermediateSize);
            Check(layer.AttentionNorm.Length == hidden, $"layers.{l}.attn_norm", layer.AttentionNorm.Length, hidden);
            Check(layer.AttentionSubNorm.Length == attention, $"layers.{l}.attn_sub_norm", layer.AttentionSubNorm.Length, attention);
            Check(layer.FeedForwardNorm.Length == hidden, $"layers.{l}.ffn_norm", layer.FeedForwardNorm.Length, hidden);
            Check(layer.FeedForwardSubNorm.Length == config.IntermediateSize, $"layers.{l}.ffn_sub_norm", layer.FeedForwardSubNorm.Length, config.IntermediateSize);
        }

        static void Shape(int layer, string name, TernaryMatrix matrix, int rows, int columns)
        {
            if (matrix.Rows != rows || matrix.Columns != columns)
            {
                throw new ArgumentException($"layers.{layer}.{name} is [{matrix.Rows}, {matrix.Columns}]; the configuration needs [{rows}, {columns}].");
            }
        }

        static void Check(bool ok, string name, long actual, long expected)
        {
            if (!ok)
            {
                throw new ArgumentException($"{name} has {actual} values; the configuration needs {expected}.");
            }
        }
    }
}
