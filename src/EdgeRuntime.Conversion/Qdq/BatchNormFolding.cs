using EdgeRuntime.Conversion.Weights;
using EdgeRuntime.Onnx;

namespace EdgeRuntime.Conversion.Qdq;

/// <summary>
/// Folds a BatchNormalization into the Conv before it, as every exporter's inference graph allows: with
/// s = γ/√(σ² + ε) per output channel, W' = W·s and b' = (b − μ)·s + β, and the Conv writes the BatchNormalization's
/// output. Done before quantizing, so the weights quantized are the ones that run and no float op sits between the
/// Conv and its output's quantizer. Only when the Conv's output feeds the BatchNormalization alone and every tensor
/// involved is a constant.
/// </summary>
internal static class BatchNormFolding
{
    public static int Fold(EditableGraph graph, WeightCatalog catalog)
    {
        int folded = 0;
        var producers = graph.Producers();
        var consumers = graph.Consumers();
        foreach (var norm in graph.Nodes.Where(n => n.Proto.OpType == "BatchNormalization" && IsStandard(n.Proto)).ToList())
        {
            var bn = norm.Proto;
            if (bn.Inputs.Count < 5 || bn.Outputs.Count(o => o.Length > 0) != 1 || bn.Int("training_mode") != 0
                || !producers.TryGetValue(bn.Inputs[0], out var convNode) || convNode.Proto.OpType != "Conv" || !IsStandard(convNode.Proto)
                || consumers[bn.Inputs[0]].Count != 1 || graph.Outputs.Contains(bn.Inputs[0]) || graph.SubgraphReads.Contains(bn.Inputs[0]))
            {
                continue;
            }

            var conv = convNode.Proto;
            var w = catalog.Resolve(conv.Inputs[1], out _);
            var b = conv.Inputs.Count > 2 && conv.Inputs[2].Length > 0 ? catalog.Resolve(conv.Inputs[2], out _) : null;
            var parts = bn.Inputs.Skip(1).Take(4).Select(name => catalog.Resolve(name, out _)).ToArray();
            if (w is null || w.ElementType != OnnxDataType.Float || w.Dims.Length < 3 || (conv.Inputs.Count > 2 && conv.Inputs[2].Length > 0 && b is null) || parts.Any(p => p is null))
            {
                continue;
            }

            int channels = (int)w.Dims[0];
            if (parts.Any(p => p!.Values.Length != channels) || (b is not null && b.Values.Length != channels))
            {
                continue;
            }

            float epsilon = (float)bn.Float("epsilon", 1e-5);
            var (gamma, beta, mean, variance) = (parts[0]!.Values, parts[1]!.Values, parts[2]!.Values, parts[3]!.Values);
            int perChannel = w.Values.Length / channels;
            var weights = new float[w.Values.Length];
            var bias = new float[channels];
            for (int c = 0; c < channels; c++)
            {
                float scale = gamma[c] / MathF.Sqrt(variance[c] + epsilon);
                for (int i = 0; i < perChannel; i++)
                {
                    weights[(c * perChannel) + i] = w.Values[(c * perChannel) + i] * scale;
                }

                bias[c] = (((b?.Values[c] ?? 0) - mean[c]) * scale) + beta[c];
            }

            string weightName = graph.FreshName(conv.Inputs[1] + ".folded");
            string biasName = graph.FreshName(bn.Outputs[0] + ".conv_bias");
            graph.AddInitializer(weightName, OnnxModelBuilder.TensorProto(weightName, Protocol.TensorDType.Float32, w.Dims, weights.AsSpan()));
            graph.AddInitializer(biasName, OnnxModelBuilder.TensorProto(biasName, Protocol.TensorDType.Float32, [channels], bias.AsSpan()));
            convNode.Rewire([conv.Inputs[0], weightName, biasName], [bn.Outputs[0]]);
            graph.Nodes.Remove(norm);
            folded++;
        }

        return folded;
    }

    internal static bool IsStandard(OnnxNodeProto node) => node.Domain is OnnxDomains.Default or OnnxDomains.AiOnnx;
}
