using EdgeRuntime.Generation.Folder;

namespace EdgeRuntime.Generation.Families.Lfm2;

/// <summary>Checks that LFM2 weights have the configuration's shapes and layer kinds, naming the first tensor that does not.</summary>
internal static class Lfm2Shapes
{
    public static void Check(LanguageModelConfig config, Lfm2Weights weights)
    {
        int hidden = config.HiddenSize;
        int query = config.AttentionHeads * config.HeadDim;
        int kv = config.KvHeads * config.HeadDim;
        Length(weights.Embedding.LongLength, (long)config.VocabSize * hidden, "embed_tokens");
        Length(weights.FinalNorm.Length, hidden, "embedding_norm");
        Length(weights.Layers.Length, config.Layers, "layers");
        if (config.AttentionHeads % config.KvHeads != 0 || config.HeadDim % 2 != 0)
        {
            throw new ArgumentException($"{config.AttentionHeads} query heads must be a multiple of {config.KvHeads} KV heads, and the head size ({config.HeadDim}) even.");
        }

        for (int l = 0; l < weights.Layers.Length; l++)
        {
            var layer = weights.Layers[l];
            string p = $"layers.{l}.";
            string kind = LayerKinds.Of(config, l);
            Length(layer.OperatorNorm.Length, hidden, p + "operator_norm");
            Length(layer.FeedForwardNorm.Length, hidden, p + "ffn_norm");
            Shape(layer.W1, config.IntermediateSize, hidden, p + "feed_forward.w1");
            Shape(layer.W3, config.IntermediateSize, hidden, p + "feed_forward.w3");
            Shape(layer.W2, hidden, config.IntermediateSize, p + "feed_forward.w2");
            switch (layer.Mixer)
            {
                case Lfm2Attention a when kind == LayerKinds.Attention:
                    Shape(a.Query, query, hidden, p + "self_attn.q_proj");
                    Shape(a.Key, kv, hidden, p + "self_attn.k_proj");
                    Shape(a.Value, kv, hidden, p + "self_attn.v_proj");
                    Shape(a.Output, hidden, query, p + "self_attn.out_proj");
                    Length(a.QueryNorm.Length, config.HeadDim, p + "self_attn.q_layernorm");
                    Length(a.KeyNorm.Length, config.HeadDim, p + "self_attn.k_layernorm");
                    break;
                case Lfm2Conv c when kind == LayerKinds.Conv:
                    if (c.Width != config.ConvKernel)
                    {
                        throw new ArgumentException($"{p}conv's kernel is {c.Width} wide; the configuration's convKernel is {config.ConvKernel}.");
                    }

                    Shape(c.InProjection, 3 * hidden, hidden, p + "conv.in_proj");
                    Shape(c.OutProjection, hidden, hidden, p + "conv.out_proj");
                    Length(c.Kernel.Length, (long)hidden * c.Width, p + "conv.conv");
                    break;
                default:
                    throw new ArgumentException($"layers.{l} has {(layer.Mixer is Lfm2Conv ? "conv" : "attention")} weights, but layerTypes[{l}] is \"{kind}\".");
            }
        }

        static void Shape(DenseMatrix matrix, int rows, int columns, string name)
        {
            if (matrix.Rows != rows || matrix.Columns != columns || matrix.Values.LongLength != (long)rows * columns)
            {
                throw new ArgumentException($"{name} is [{matrix.Rows}, {matrix.Columns}]; the configuration needs [{rows}, {columns}].");
            }
        }

        static void Length(long actual, long expected, string name)
        {
            if (actual != expected)
            {
                throw new ArgumentException($"{name} has {actual} values; the configuration needs {expected}.");
            }
        }
    }
}
