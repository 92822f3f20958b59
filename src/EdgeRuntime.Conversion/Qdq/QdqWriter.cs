using EdgeRuntime.Conversion.Weights;
using EdgeRuntime.Onnx;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Conversion.Qdq;

/// <summary>Writes the Q/DQ nodes and the quantized initializers into an <see cref="EditableGraph"/>.</summary>
internal sealed class QdqWriter(EditableGraph graph, int activationBits, int weightBits, string qdqDomain)
{
    // By the DequantizeLinear's output: what a quantized layer reads once its input has its Q/DQ.
    private readonly Dictionary<string, float> _activationScales = new(StringComparer.Ordinal);
    private readonly Dictionary<(string, int), (string Name, float[] Scales)> _weights = [];

    /// <summary>
    /// Q → DQ after the tensor's producer (first, for a graph input); every other reader reads the DQ's output. The
    /// range is widened to hold 0 so that zero (padding, ReLU's floor) is exact.
    /// </summary>
    public void QuantizeActivation(string tensor, ActivationRange range)
    {
        int levels = activationBits == 16 ? ushort.MaxValue : byte.MaxValue;
        float low = MathF.Min(range.Min, 0), high = MathF.Max(range.Max, 0);
        float scale = high > low ? (high - low) / levels : 1f;
        int zeroPoint = Math.Clamp((int)MathF.Round(-low / scale), 0, levels);
        string q = graph.FreshName(tensor + ".q"), dq = graph.FreshName(tensor + ".dq");
        _activationScales[dq] = scale;
        string scaleName = graph.FreshName(tensor + ".scale"), zeroName = graph.FreshName(tensor + ".zero_point");
        graph.AddInitializer(scaleName, OnnxModelBuilder.TensorProto(scaleName, TensorDType.Float32, [], new[] { scale }.AsSpan()));
        graph.AddInitializer(zeroName, activationBits == 16
            ? OnnxModelBuilder.TensorProto(zeroName, TensorDType.UInt16, [], new[] { (ushort)zeroPoint }.AsSpan())
            : OnnxModelBuilder.TensorProto(zeroName, TensorDType.UInt8, [], new[] { (byte)zeroPoint }.AsSpan()));

        foreach (var reader in graph.Nodes.Where(n => n.Proto.Inputs.Contains(tensor)).ToList())
        {
            reader.Rewire([.. reader.Proto.Inputs.Select(i => i == tensor ? dq : i)], reader.Proto.Outputs);
        }

        var quantize = GraphNode.From(OnnxModelBuilder.NodeProto("QuantizeLinear", q, [tensor, scaleName, zeroName], [q], qdqDomain));
        var dequantize = GraphNode.From(OnnxModelBuilder.NodeProto("DequantizeLinear", dq, [q, scaleName, zeroName], [dq], qdqDomain));
        int producer = graph.Nodes.FindIndex(n => n.Proto.Outputs.Contains(tensor));
        graph.Nodes.InsertRange(producer + 1, [quantize, dequantize]);
    }

    /// <summary>
    /// The layer's weights as int8 per output channel behind a DequantizeLinear, and its bias as int32; the report of the
    /// weights, or null when an earlier layer sharing them already quantized them.
    /// </summary>
    public LayerReport? QuantizeWeights(GraphNode node, string label, ResolvedWeight weight, int axis, WeightCatalog catalog)
    {
        var p = node.Proto;
        string weightName = p.Inputs[1];
        int channels = (int)weight.Dims[axis];
        long count = weight.Values.LongLength;
        bool fresh = !_weights.TryGetValue((weightName, axis), out var quantized);
        LayerReport? report = null;
        if (fresh)
        {
            var codes = new sbyte[count];
            var dequantized = new float[count];
            var scales = PerChannel(weight, axis, (1 << (weightBits - 1)) - 1, codes, dequantized);
            string codesName = graph.FreshName(weightName + ".int8"), scaleName = graph.FreshName(weightName + ".scale");
            string zeroName = graph.FreshName(weightName + ".zero_point"), dq = graph.FreshName(weightName + ".dq");
            graph.AddInitializer(codesName, OnnxModelBuilder.TensorProto(codesName, TensorDType.Int8, weight.Dims, (ReadOnlySpan<sbyte>)codes));
            graph.AddInitializer(scaleName, OnnxModelBuilder.TensorProto(scaleName, TensorDType.Float32, [channels], scales.AsSpan()));
            graph.AddInitializer(zeroName, OnnxModelBuilder.TensorProto(zeroName, TensorDType.Int8, [channels], (ReadOnlySpan<sbyte>)new sbyte[channels]));
            graph.Nodes.Insert(0, GraphNode.From(OnnxModelBuilder.NodeProto("DequantizeLinear", dq, [codesName, scaleName, zeroName], [dq], qdqDomain, new NodeAttribute("axis", axis))));
            quantized = (dq, scales);
            _weights[(weightName, axis)] = quantized;
            report = new LayerReport(label, weightName, (int)(count / channels), channels, WeightQuantizer.SqnrDb(weight.Values, dequantized), weight.StoredBytes, count + (channels * 5L));
        }

        var inputs = p.Inputs.ToList();
        inputs[1] = quantized.Name;
        if (p.OpType is "Conv" or "Gemm" && inputs.Count > 2 && inputs[2].Length > 0 && QuantizedBias(inputs[2], channels, _activationScales[p.Inputs[0]], quantized.Scales, catalog) is { } bias)
        {
            inputs[2] = bias;
        }

        node.Rewire(inputs, p.Outputs);
        return report;
    }


    /// <summary>int32 codes at scale x_scale·w_scale[c], zero point 0, behind a DequantizeLinear; null (float bias kept) if a code would not fit.</summary>
    private string? QuantizedBias(string name, int channels, float activationScale, float[] weightScales, WeightCatalog catalog)
    {
        if (catalog.Resolve(name, out _) is not { } bias || bias.Values.Length != channels || bias.Dims.Length != 1)
        {
            return null;
        }

        var scales = new float[channels];
        var codes = new int[channels];
        for (int c = 0; c < channels; c++)
        {
            scales[c] = activationScale * weightScales[c];
            double code = Math.Round(bias.Values[c] / scales[c]);
            if (!(Math.Abs(code) < int.MaxValue))
            {
                return null;
            }

            codes[c] = (int)code;
        }

        string codesName = graph.FreshName(name + ".int32"), scaleName = graph.FreshName(name + ".scale"), zeroName = graph.FreshName(name + ".zero_point"), dq = graph.FreshName(name + ".dq");
        graph.AddInitializer(codesName, OnnxModelBuilder.TensorProto(codesName, TensorDType.Int32, [channels], codes.AsSpan()));
        graph.AddInitializer(scaleName, OnnxModelBuilder.TensorProto(scaleName, TensorDType.Float32, [channels], scales.AsSpan()));
        graph.AddInitializer(zeroName, OnnxModelBuilder.TensorProto(zeroName, TensorDType.Int32, [channels], new int[channels].AsSpan()));
        graph.Nodes.Insert(0, GraphNode.From(OnnxModelBuilder.NodeProto("DequantizeLinear", dq, [codesName, scaleName, zeroName], [dq], qdqDomain, new NodeAttribute("axis", 0))));
        return dq;
    }

    /// <summary>Symmetric per output channel, codes −limit..limit (127 for 8 bits, 63 for 7): scale = max|w| / limit over the channel.</summary>
    private static float[] PerChannel(ResolvedWeight weight, int axis, int limit, sbyte[] codes, float[] dequantized)
    {
        long outer = weight.Dims[..axis].Aggregate(1L, (a, d) => a * d);
        int channels = (int)weight.Dims[axis];
        long inner = weight.Dims[(axis + 1)..].Aggregate(1L, (a, d) => a * d);
        var largest = new float[channels];
        for (long o = 0; o < outer; o++)
        {
            for (int c = 0; c < channels; c++)
            {
                for (long i = 0; i < inner; i++)
                {
                    largest[c] = MathF.Max(largest[c], MathF.Abs(weight.Values[(((o * channels) + c) * inner) + i]));
                }
            }
        }

        var scales = largest.Select(m => m > 0 ? m / limit : 1f).ToArray();
        for (long o = 0; o < outer; o++)
        {
            for (int c = 0; c < channels; c++)
            {
                for (long i = 0; i < inner; i++)
                {
                    long at = (((o * channels) + c) * inner) + i;
                    int code = Math.Clamp((int)MathF.Round(weight.Values[at] / scales[c]), -limit, limit);
                    codes[at] = (sbyte)code;
                    dequantized[at] = code * scales[c];
                }
            }
        }

        return scales;
    }
}
