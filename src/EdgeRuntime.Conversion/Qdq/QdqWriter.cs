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
    /// weights, or null when an earlier layer sharing them already quantized them. Zero points are left out: they are
    /// optional and 0 here, and every channel's would cost a byte (an int32 bias's four).
    /// </summary>
    public LayerReport? QuantizeWeights(GraphNode node, string label, ResolvedWeight weight, int axis, WeightCatalog catalog)
    {
        var p = node.Proto;
        string weightName = p.Inputs[1];
        int channels = (int)weight.Dims[axis];
        long count = weight.Values.LongLength;
        float activationScale = _activationScales[p.Inputs[0]];
        var bias = p.OpType is "Conv" or "Gemm" && p.Inputs.Count > 2 && p.Inputs[2].Length > 0 && catalog.Resolve(p.Inputs[2], out _) is { } b
            && b.Values.Length == channels && b.Dims.Length == 1 ? b : null;
        bool fresh = !_weights.TryGetValue((weightName, axis), out var quantized);
        LayerReport? report = null;
        if (fresh)
        {
            var codes = new sbyte[count];
            var dequantized = new float[count];
            var scales = PerChannel(weight, axis, (1 << (weightBits - 1)) - 1, BiasFloor(bias, activationScale, channels), codes, dequantized);
            string codesName = graph.FreshName(weightName + ".int8"), scaleName = graph.FreshName(weightName + ".scale"), dq = graph.FreshName(weightName + ".dq");
            graph.AddInitializer(codesName, OnnxModelBuilder.TensorProto(codesName, TensorDType.Int8, weight.Dims, (ReadOnlySpan<sbyte>)codes));
            graph.AddInitializer(scaleName, OnnxModelBuilder.TensorProto(scaleName, TensorDType.Float32, [channels], scales.AsSpan()));
            graph.Nodes.Insert(0, GraphNode.From(OnnxModelBuilder.NodeProto("DequantizeLinear", dq, [codesName, scaleName], [dq], qdqDomain, new NodeAttribute("axis", axis))));
            quantized = (dq, scales);
            _weights[(weightName, axis)] = quantized;
            report = new LayerReport(label, weightName, (int)(count / channels), channels, WeightQuantizer.SqnrDb(weight.Values, dequantized), weight.StoredBytes, count + (channels * 4L));
        }

        var inputs = p.Inputs.ToList();
        inputs[1] = quantized.Name;
        if (bias is not null && QuantizedBias(inputs[2], bias, activationScale, quantized.Scales) is { } biasDq)
        {
            inputs[2] = biasDq;
        }

        node.Rewire(inputs, p.Outputs);
        return report;
    }

    /// <summary>
    /// The smallest weight scale per channel at which the int32 bias code b/(x_scale·w_scale) stays within ±2³⁰: with
    /// 16-bit activations x_scale is small enough for a large folded bias to overflow. Widening that channel's weight scale
    /// costs it a little resolution; a float bias instead would leave the layer unfused, and ORT's own bias quantization
    /// needs opset 11 (Round), which a model moved to 10 does not have.
    /// </summary>
    private static float[]? BiasFloor(ResolvedWeight? bias, float activationScale, int channels) =>
        bias is null ? null : [.. Enumerable.Range(0, channels).Select(c => MathF.Abs(bias.Values[c]) / (activationScale * (1 << 30)))];

    /// <summary>int32 codes at scale x_scale·w_scale[c], zero point 0, behind a DequantizeLinear; null (float bias kept) if a code would not fit.</summary>
    private string? QuantizedBias(string name, ResolvedWeight bias, float activationScale, float[] weightScales)
    {
        int channels = weightScales.Length;
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

        string codesName = graph.FreshName(name + ".int32"), scaleName = graph.FreshName(name + ".scale"), dq = graph.FreshName(name + ".dq");
        graph.AddInitializer(codesName, OnnxModelBuilder.TensorProto(codesName, TensorDType.Int32, [channels], codes.AsSpan()));
        graph.AddInitializer(scaleName, OnnxModelBuilder.TensorProto(scaleName, TensorDType.Float32, [channels], scales.AsSpan()));
        graph.Nodes.Insert(0, GraphNode.From(OnnxModelBuilder.NodeProto("DequantizeLinear", dq, [codesName, scaleName], [dq], qdqDomain, new NodeAttribute("axis", 0))));
        return dq;
    }

    /// <summary>
    /// Symmetric per output channel, codes −limit..limit (127 for 8 bits, 63 for 7): the scale with the least squared
    /// error among max|w|·r / limit for r from 1 down to 0.7, never below the channel's floor.
    /// </summary>
    private static float[] PerChannel(ResolvedWeight weight, int axis, int limit, float[]? floor, sbyte[] codes, float[] dequantized)
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

        // Each channel's scale is the one of max|w|·r/limit, r in 1.00, 0.98 … 0.70, with the least squared error: a few
        // outlying weights clipped buy every other weight a finer step.
        var scales = new float[channels];
        var best = new double[channels];
        Array.Fill(best, double.PositiveInfinity);
        var error = new double[channels];
        var candidate = new float[channels];
        for (int step = 0; step <= 15; step++)
        {
            float ratio = 1f - (step * 0.02f);
            for (int c = 0; c < channels; c++)
            {
                candidate[c] = MathF.Max(largest[c] > 0 ? largest[c] * ratio / limit : 1f, floor?[c] ?? 0);
            }

            Array.Clear(error);
            for (long o = 0; o < outer; o++)
            {
                for (int c = 0; c < channels; c++)
                {
                    float s = candidate[c];
                    double sum = 0;
                    for (long i = 0; i < inner; i++)
                    {
                        float w = weight.Values[(((o * channels) + c) * inner) + i];
                        float d = w - (Math.Clamp(MathF.Round(w / s), -limit, limit) * s);
                        sum += d * d;
                    }

                    error[c] += sum;
                }
            }

            for (int c = 0; c < channels; c++)
            {
                if (error[c] < best[c])
                {
                    (best[c], scales[c]) = (error[c], candidate[c]);
                }
            }
        }

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
