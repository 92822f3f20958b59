using EdgeRuntime.Conversion.Weights;
using EdgeRuntime.Onnx;

namespace EdgeRuntime.Conversion.Qdq;

/// <summary>
/// Cross-layer equalization on activations (after Nagel et al., "Data-Free Quantization", 2019): where a Conv's output
/// reaches the next Conv through nothing but an optional Relu, output channel c of the first is multiplied by s_c and
/// input channel c of the second divided by it. Relu(s·x) = s·Relu(x) for s &gt; 0, so the float model computes the same.
/// <para>
/// Why: the tensor between them is quantized per tensor, so one channel with a wide range sets the step for all (the
/// BlazeFace export has a depthwise output reaching −294 where the others stay within ±20). With a_c that channel's
/// largest |value| over the calibration samples and w_c the largest |weight| the second conv applies to it,
/// s_c = √(w_c / a_c) leaves both at √(a_c·w_c): the wide channels narrow, and the second conv's weights on them widen
/// by the same factor, which its per-output-channel weight scales absorb better than one activation step does.
/// </para>
/// </summary>
internal static class ChannelEqualization
{
    /// <summary>A pair to equalize: the first Conv, the tensor the second reads (its output or the Relu's), and the second Conv.</summary>
    private sealed record Pair(GraphNode First, string Between, GraphNode Second, ResolvedWeight FirstWeight, ResolvedWeight? FirstBias, ResolvedWeight SecondWeight, bool SecondDepthwise);

    /// <summary>Rescales every such pair from the calibration samples' channel ranges; how many pairs were rescaled.</summary>
    public static int Equalize(EditableGraph graph, WeightCatalog catalog, byte[] model, IReadOnlyList<CalibrationSample> samples)
    {
        var pairs = Pairs(graph, catalog);
        if (pairs.Count == 0 || samples.Count == 0)
        {
            return 0;
        }

        var ranges = ChannelRanges(model, [.. pairs.Select(p => p.Between)], graph.Outputs, samples);
        int equalized = 0;
        foreach (var pair in pairs)
        {
            if (!ranges.TryGetValue(pair.Between, out var activation) || activation.Length != pair.FirstWeight.Dims[0])
            {
                continue;
            }

            var scales = Scales(activation, ColumnRanges(pair));
            if (scales is null)
            {
                continue;
            }

            Apply(graph, pair, scales);
            equalized++;
        }

        return equalized;
    }

    private static List<Pair> Pairs(EditableGraph graph, WeightCatalog catalog)
    {
        var consumers = graph.Consumers();
        var pairs = new List<Pair>();
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var first in graph.Nodes.Where(n => IsConv(n.Proto)))
        {
            string between = first.Proto.Outputs[0];
            if (!OnlyReader(graph, consumers, between, out var next))
            {
                continue;
            }

            if (next!.Proto.OpType == "Relu" && BatchNormFolding.IsStandard(next.Proto))
            {
                between = next.Proto.Outputs[0];
                if (!OnlyReader(graph, consumers, between, out next))
                {
                    continue;
                }
            }

            var p1 = first.Proto;
            var p2 = next!.Proto;
            if (!IsConv(p2) || p2.Inputs[0] != between || p1.Inputs.Count < 2 || p2.Inputs.Count < 2
                || used.Contains(p1.Inputs[1]) || used.Contains(p2.Inputs[1]) || p1.Inputs[1] == p2.Inputs[1]
                || catalog.Resolve(p1.Inputs[1], out _) is not { ElementType: OnnxDataType.Float } w1
                || catalog.Resolve(p2.Inputs[1], out _) is not { ElementType: OnnxDataType.Float } w2)
            {
                continue;
            }

            var bias = p1.Inputs.Count > 2 && p1.Inputs[2].Length > 0 ? catalog.Resolve(p1.Inputs[2], out _) : null;
            long channels = w1.Dims[0], group = p2.Int("group", 1);
            bool depthwise = group == channels && w2.Dims[0] == channels && w2.Dims[1] == 1;
            bool plain = group == 1 && w2.Dims[1] == channels;
            if ((p1.Int("group", 1) != 1 && p1.Int("group", 1) != channels) || !(depthwise || plain)
                || (p1.Inputs.Count > 2 && p1.Inputs[2].Length > 0 && (bias is null || bias.Values.Length != channels)))
            {
                continue;
            }

            // Each weight is rescaled by one pair only: a conv in two pairs (A → B → C) takes the first.
            used.Add(p1.Inputs[1]);
            used.Add(p2.Inputs[1]);
            pairs.Add(new Pair(first, between, next, w1, bias, w2, depthwise));
        }

        return pairs;
    }

    private static bool IsConv(OnnxNodeProto node) => node.OpType == "Conv" && BatchNormFolding.IsStandard(node) && node.Outputs.Length > 0;

    private static bool OnlyReader(EditableGraph graph, Dictionary<string, List<GraphNode>> consumers, string tensor, out GraphNode? reader)
    {
        reader = consumers.TryGetValue(tensor, out var readers) && readers.Count == 1 && !graph.Outputs.Contains(tensor) && !graph.SubgraphReads.Contains(tensor) ? readers[0] : null;
        return reader is not null;
    }

    /// <summary>
    /// The second conv's input channel that its weight at flat index <c>at</c> applies to: W is [M, C/group, kH, kW], so
    /// the row for a depthwise conv (one output per channel) and the second axis for a plain one.
    /// </summary>
    private static Func<long, int> InputChannelOf(Pair pair)
    {
        var w = pair.SecondWeight;
        long perRow = w.Values.LongLength / w.Dims[0];
        long inner = perRow / w.Dims[1];
        return pair.SecondDepthwise ? at => (int)(at / perRow) : at => (int)(at % perRow / inner);
    }

    /// <summary>Per input channel of the second conv, the largest |weight| applied to it.</summary>
    private static float[] ColumnRanges(Pair pair)
    {
        var values = pair.SecondWeight.Values;
        var channelOf = InputChannelOf(pair);
        var ranges = new float[pair.FirstWeight.Dims[0]];
        for (long at = 0; at < values.LongLength; at++)
        {
            int c = channelOf(at);
            ranges[c] = MathF.Max(ranges[c], MathF.Abs(values[at]));
        }

        return ranges;
    }

    /// <summary>s_c = √(w_c / a_c), normalized so the widest activation channel keeps its range; null when nothing would change.</summary>
    private static float[]? Scales(float[] activation, float[] columns)
    {
        var scales = new float[activation.Length];
        for (int c = 0; c < scales.Length; c++)
        {
            scales[c] = activation[c] > 0 && columns[c] > 0 ? MathF.Sqrt(columns[c] / activation[c]) : 1f;
        }

        float widest = activation.Max();
        float after = activation.Select((a, c) => a * scales[c]).Max();
        if (widest <= 0 || after <= 0)
        {
            return null;
        }

        float norm = widest / after;
        for (int c = 0; c < scales.Length; c++)
        {
            scales[c] = activation[c] > 0 && columns[c] > 0 ? scales[c] * norm : 1f;
        }

        return scales;
    }

    private static void Apply(EditableGraph graph, Pair pair, float[] scales)
    {
        var w1 = pair.FirstWeight;
        long perChannel = w1.Values.LongLength / w1.Dims[0];
        var first = new float[w1.Values.LongLength];
        for (long at = 0; at < first.LongLength; at++)
        {
            first[at] = w1.Values[at] * scales[at / perChannel];
        }

        var w2 = pair.SecondWeight;
        var channelOf = InputChannelOf(pair);
        var second = new float[w2.Values.LongLength];
        for (long at = 0; at < second.LongLength; at++)
        {
            second[at] = w2.Values[at] / scales[channelOf(at)];
        }

        var p1 = pair.First.Proto;
        var inputs = p1.Inputs.ToList();
        inputs[1] = Add(graph, p1.Inputs[1] + ".equalized", w1.Dims, first);
        if (pair.FirstBias is { } bias)
        {
            inputs[2] = Add(graph, p1.Inputs[2] + ".equalized", bias.Dims, [.. bias.Values.Select((b, c) => b * scales[c])]);
        }

        pair.First.Rewire(inputs, p1.Outputs);
        var p2 = pair.Second.Proto;
        var secondInputs = p2.Inputs.ToList();
        secondInputs[1] = Add(graph, p2.Inputs[1] + ".equalized", w2.Dims, second);
        pair.Second.Rewire(secondInputs, p2.Outputs);
    }

    private static string Add(EditableGraph graph, string stem, long[] dims, float[] values)
    {
        string name = graph.FreshName(stem);
        graph.AddInitializer(name, OnnxModelBuilder.TensorProto(name, Protocol.TensorDType.Float32, dims, values.AsSpan()));
        return name;
    }

    /// <summary>Per channel (axis 1) of each tensor, the largest |value| over the samples.</summary>
    private static Dictionary<string, float[]> ChannelRanges(byte[] model, IReadOnlyList<string> tensors, ISet<string> graphOutputs, IReadOnlyList<CalibrationSample> samples)
    {
        using var runner = new SampleRunner(SampleRunner.WithOutputs(model, tensors, graphOutputs));
        var shapes = new long[tensors.Count][];
        var ranges = new Dictionary<string, float[]>(StringComparer.Ordinal);
        foreach (var sample in samples)
        {
            var values = runner.Run(sample, tensors, shapes);
            for (int t = 0; t < tensors.Count; t++)
            {
                long[] shape = shapes[t];
                if (shape is not { Length: >= 2 } || shape[1] <= 0)
                {
                    continue;
                }

                int channels = (int)shape[1];
                long inner = shape[2..].Aggregate(1L, (a, d) => a * d);
                if (inner <= 0 || values[t].LongLength % (channels * inner) != 0)
                {
                    continue;
                }

                var range = ranges.TryGetValue(tensors[t], out var seen) ? seen : ranges[tensors[t]] = new float[channels];
                for (long at = 0; at < values[t].LongLength; at++)
                {
                    int c = (int)(at / inner % channels);
                    range[c] = MathF.Max(range[c], MathF.Abs(values[t][at]));
                }
            }
        }

        return ranges;
    }
}
