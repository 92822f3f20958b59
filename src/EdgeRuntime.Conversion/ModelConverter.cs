using EdgeRuntime.Conversion.Weights;
using EdgeRuntime.Kernels.Ternary;
using EdgeRuntime.Onnx;

namespace EdgeRuntime.Conversion;

/// <summary>
/// Rewrites a float ONNX model's linear layers onto quantized ops: every MatMul (standard domain) whose second input is
/// a constant 2-D W [K, N], and every Gemm with such weights (transB 0 or 1, alpha = beta = 1, an optional constant
/// bias of N values: PyTorch's nn.Linear), becomes ai.edgeruntime::BitLinear or com.microsoft::MatMulNBits (bits 4), the
/// bias as the op's bias input, reading the same activation and writing the same output. A constant is found wherever
/// exporters put it (<see cref="WeightCatalog"/>); a layer computing in float16 or bfloat16 runs in float between two
/// Casts. The float weights, the nodes that carried them and their graph-input entries are dropped when nothing else
/// reads them; external initializers that stay are read into the model; every other field is copied byte for byte, and
/// the needed opset imports are added.
/// </summary>
public static class ModelConverter
{
    /// <summary>Converts <paramref name="model"/>; external data files are read from <paramref name="modelDirectory"/> (the model file's folder).</summary>
    public static ConversionResult Convert(byte[] model, ConversionOptions options, string? modelDirectory = null)
    {
        if (options.Target == ConversionTarget.Int8)
        {
            return Qdq.QdqQuantizer.Convert(model, options, modelDirectory);
        }

        if (options.Target == ConversionTarget.Int4)
        {
            new Kernels.LowBit.NBitsShape(1, 1, 4, options.BlockSize).Validate();
        }

        byte[]? graph = null;
        var reader = new ProtoReader(model);
        var output = new ProtoWriter();
        var opsets = new HashSet<string>(StringComparer.Ordinal);
        int start = 0;
        while (reader.Next())
        {
            if (reader.Is(OnnxFields.Model.Graph, WireType.LengthDelimited))
            {
                graph = reader.ReadBytes().ToArray();
                start = reader.Position;
                continue;
            }

            if (reader.Is(OnnxFields.Model.OpsetImport, WireType.LengthDelimited))
            {
                opsets.Add(ProtoReader.FirstString(reader.ReadBytes(), OnnxFields.OperatorSetId.Domain));
            }
            else
            {
                reader.Skip();
            }

            output.Raw(model.AsSpan(start, reader.Position - start));
            start = reader.Position;
        }

        if (graph is null)
        {
            throw new InvalidDataException("The file has no graph: it is not an ONNX model.");
        }

        var layers = new List<LayerReport>();
        var skipped = new List<string>();
        bool external = ExternalInitializers.Read(model).Count > 0;
        byte[] converted = ConvertGraph(graph, options, modelDirectory, layers, skipped);
        if (layers.Count == 0)
        {
            return new ConversionResult(model, layers, skipped, model.LongLength) { ReadExternalData = external };
        }

        output.Bytes(OnnxFields.Model.Graph, converted);
        string domain = options.Target is ConversionTarget.BitLinear or ConversionTarget.Int8Packed ? OnnxDomains.EdgeRuntime : OnnxDomains.Microsoft;
        if (!opsets.Contains(domain))
        {
            output.Message(OnnxFields.Model.OpsetImport, new ProtoWriter().String(OnnxFields.OperatorSetId.Domain, domain).Varint(OnnxFields.OperatorSetId.Version, 1));
        }

        return new ConversionResult(output.ToArray(), layers, skipped, model.LongLength) { ReadExternalData = external };
    }

    private static byte[] ConvertGraph(byte[] graph, ConversionOptions options, string? modelDirectory, List<LayerReport> layers, List<string> skipped)
    {
        var initializers = new Dictionary<string, TensorValue>(StringComparer.Ordinal);
        var nodes = new List<OnnxNodeProto>();
        // Names the float weights must stay for: graph outputs and anything a subgraph (If/Loop/Scan body) reads from
        // this graph. Graph inputs are apart: IR < 4 lists every initializer among them, and such an entry goes with
        // its initializer.
        var keep = new HashSet<string>(StringComparer.Ordinal);
        var graphInputs = new HashSet<string>(StringComparer.Ordinal);
        var reader = new ProtoReader(graph);
        while (reader.Next())
        {
            switch (reader.Field, reader.WireType)
            {
                case (OnnxFields.Graph.Initializer, WireType.LengthDelimited):
                    var initializer = TensorValue.Read(reader.ReadBytes());
                    initializers[initializer.Name] = initializer;
                    break;
                case (OnnxFields.Graph.Node, WireType.LengthDelimited):
                    nodes.Add(OnnxNodeProto.Read(reader.ReadBytes(), keep));
                    break;
                case (OnnxFields.Graph.Input, WireType.LengthDelimited):
                    graphInputs.Add(ProtoReader.FirstString(reader.ReadBytes(), OnnxFields.ValueInfo.Name));
                    break;
                case (OnnxFields.Graph.Output, WireType.LengthDelimited):
                    keep.Add(ProtoReader.FirstString(reader.ReadBytes(), OnnxFields.ValueInfo.Name));
                    break;
                default:
                    reader.Skip();
                    break;
            }
        }

        var catalog = new WeightCatalog(initializers, nodes, graphInputs.Where(i => !initializers.ContainsKey(i)).ToHashSet(StringComparer.Ordinal), modelDirectory);

        // Per converted node: the replacement's NodeProto fields (graph field 1, one or more nodes) and new initializers;
        // and the constants the converted layers read (initializers, and the nodes that carry them).
        var converted = new Dictionary<int, (byte[] Nodes, ProtoWriter[] Initializers)>();
        var usedInitializers = new HashSet<string>(StringComparer.Ordinal);
        var usedNodes = new HashSet<int>();
        var emitted = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < nodes.Count; i++)
        {
            var node = nodes[i];
            if (options.Target == ConversionTarget.Int8Packed)
            {
                if (Int8Packing.Pack(node, i, initializers, modelDirectory, layers, skipped, emitted) is { } packedNode)
                {
                    converted[i] = packedNode;
                    usedInitializers.Add(node.Inputs[Int8Packing.WeightInput(node)]);
                }

                continue;
            }

            bool gemm = node.OpType == "Gemm";
            if (node.Domain is not (OnnxDomains.Default or OnnxDomains.AiOnnx) || !((node.OpType == "MatMul" && node.Inputs.Count == 2) || (gemm && node.Inputs.Count is 2 or 3)))
            {
                continue;
            }

            string label = node.Name.Length > 0 ? node.Name : $"{node.OpType} #{i}";
            if (gemm && GemmProblem(node) is { } gemmProblem)
            {
                skipped.Add($"{label}: {gemmProblem}");
                continue;
            }

            string weightName = node.Inputs[1];
            if (catalog.Resolve(weightName, out string? problem) is not { } weight)
            {
                skipped.Add($"{label}: its weights '{weightName}' {problem}");
                continue;
            }

            if (WeightProblem(weight) is { } shapeProblem)
            {
                skipped.Add($"{label}: weights '{weightName}' {shapeProblem}");
                continue;
            }

            ResolvedWeight? bias = null;
            if (gemm && node.Inputs.Count == 3 && node.Inputs[2].Length > 0)
            {
                long n = weight.Dims[node.Int("transB") == 1 ? 0 : 1];
                // [N] or [1, N]: one value per output column ([N, 1] would broadcast per row instead).
                bias = catalog.Resolve(node.Inputs[2], out _);
                if (bias is null || bias.Dims.Length is 0 or > 2 || bias.Dims[^1] != n || (bias.Dims.Length == 2 && bias.Dims[0] != 1))
                {
                    skipped.Add($"{label}: its bias '{node.Inputs[2]}' is not a constant [N] or [1, N] with N = {n}");
                    continue;
                }
            }

            var (replacement, added) = ConvertLayer(node, i, label, weightName, weight, node.Int("transB") == 1, bias, options, layers, emitted);
            converted[i] = (replacement.ToArray(), added);
            foreach (var constant in bias is null ? [weight] : new[] { weight, bias })
            {
                usedNodes.UnionWith(constant.Nodes);
                if (constant.Initializer is { } name)
                {
                    usedInitializers.Add(name);
                }
            }
        }

        var (droppedNodes, stillRead) = UnreadCarriers(nodes, converted.Keys, usedNodes, keep);
        var droppedInitializers = usedInitializers.Where(name => !stillRead.Contains(name) && !keep.Contains(name)).ToHashSet(StringComparer.Ordinal);
        return layers.Count == 0 ? graph : Rewrite(graph, converted, droppedNodes, droppedInitializers, modelDirectory);
    }

    /// <summary>
    /// The carrier nodes (Constant, Identity, Cast, Transpose) of converted weights that nothing reads once the layers
    /// are converted, found to a fixed point (dropping one can leave the one before it unread), and the names still read.
    /// </summary>
    private static (HashSet<int> Dropped, HashSet<string> StillRead) UnreadCarriers(List<OnnxNodeProto> nodes, IEnumerable<int> converted, HashSet<int> carriers, HashSet<string> keep)
    {
        var gone = new HashSet<int>(converted);
        var dropped = new HashSet<int>();
        while (true)
        {
            var read = new HashSet<string>(nodes.Where((_, i) => !gone.Contains(i)).SelectMany(n => n.Inputs), StringComparer.Ordinal);
            var unread = carriers.Where(i => !gone.Contains(i) && !nodes[i].Outputs.Any(o => read.Contains(o) || keep.Contains(o))).ToList();
            if (unread.Count == 0)
            {
                return (dropped, read);
            }

            gone.UnionWith(unread);
            dropped.UnionWith(unread);
        }
    }

    /// <summary>
    /// The graph with converted nodes replaced, unread carriers and float weights dropped (and the graph-input entries
    /// IR &lt; 4 kept for them), the new initializers added, and external initializers that stay read into the model,
    /// so the result does not depend on the input's folder.
    /// </summary>
    private static byte[] Rewrite(byte[] graph, Dictionary<int, (byte[] Nodes, ProtoWriter[] Initializers)> converted, HashSet<int> droppedNodes, HashSet<string> droppedInitializers, string? modelDirectory)
    {
        var writer = new ProtoWriter();
        var reader = new ProtoReader(graph);
        int start = 0, nodeIndex = 0;
        while (reader.Next())
        {
            if (reader.Is(OnnxFields.Graph.Node, WireType.LengthDelimited))
            {
                reader.Skip();
                int index = nodeIndex++;
                if (converted.TryGetValue(index, out var replacement))
                {
                    writer.Raw(replacement.Nodes);
                    start = reader.Position;
                    continue;
                }

                if (droppedNodes.Contains(index))
                {
                    start = reader.Position;
                    continue;
                }
            }
            else if (reader.Is(OnnxFields.Graph.Initializer, WireType.LengthDelimited))
            {
                var bytes = reader.ReadBytes();
                var tensor = TensorValue.Read(bytes);
                if (droppedInitializers.Contains(tensor.Name))
                {
                    start = reader.Position;
                    continue;
                }

                if (tensor.External is { } external)
                {
                    writer.Message(OnnxFields.Graph.Initializer, TensorValue.Inline(bytes, external.Read(tensor.Name, modelDirectory, tensor.Count * TensorValue.ElementBytes(tensor.DataType))));
                    start = reader.Position;
                    continue;
                }
            }
            else if (reader.Is(OnnxFields.Graph.Input, WireType.LengthDelimited))
            {
                if (droppedInitializers.Contains(ProtoReader.FirstString(reader.ReadBytes(), OnnxFields.ValueInfo.Name)))
                {
                    start = reader.Position;
                    continue;
                }
            }
            else
            {
                reader.Skip();
            }

            writer.Raw(graph.AsSpan(start, reader.Position - start));
            start = reader.Position;
        }

        foreach (var added in converted.Values.SelectMany(c => c.Initializers))
        {
            writer.Message(OnnxFields.Graph.Initializer, added);
        }

        return writer.ToArray();
    }

    private static string? WeightProblem(ResolvedWeight weight) => weight switch
    {
        { ElementType: OnnxDataType.Double } => "are double: the layer computes in double precision, which the quantized ops do not take",
        { Dims.Length: not 2 } => $"have rank {weight.Dims.Length}, not 2",
        _ when weight.Dims[0] == 0 || weight.Dims[1] == 0 => "are empty",
        _ when weight.Dims[0] > int.MaxValue / Math.Max(1, weight.Dims[1]) => "are too large",
        _ => null,
    };

    private static string? GemmProblem(OnnxNodeProto node)
    {
        if (node.Int("transA") != 0)
        {
            return "Gemm with transA = 1 is not converted";
        }

        return node.Float("alpha", 1) != 1 || node.Float("beta", 1) != 1 ? "Gemm with alpha or beta other than 1 is not converted" : null;
    }

    /// <summary>
    /// The node(s) replacing one layer, and the new initializers not already emitted for an earlier layer sharing the
    /// same weights (so shared weights are quantized and stored once).
    /// </summary>
    private static (ProtoWriter Node, ProtoWriter[] Initializers) ConvertLayer(OnnxNodeProto node, int index, string label, string weightName, ResolvedWeight weight, bool transposed, ResolvedWeight? bias, ConversionOptions options, List<LayerReport> layers, HashSet<string> emitted)
    {
        var (replacement, tensors) = ConvertLayer(node, index, label, weightName, weight, transposed, bias, options, layers, emitted.Contains(TensorPrefix(weightName, transposed, options)));
        var fresh = tensors.Where(t => emitted.Add(t.Name)).Select(t => t.Tensor).ToArray();
        return (replacement, fresh);
    }

    private static string TensorPrefix(string weightName, bool transposed, ConversionOptions options) =>
        $"{weightName}.{(options.Target == ConversionTarget.BitLinear ? "ternary" : "int4")}{(transposed ? ".t" : string.Empty)}";

    private static (ProtoWriter Node, (string Name, ProtoWriter Tensor)[] Tensors) ConvertLayer(OnnxNodeProto node, int index, string label, string weightName, ResolvedWeight weight, bool transposed, ResolvedWeight? bias, ConversionOptions options, List<LayerReport> layers, bool alreadyQuantized)
    {
        // W as [K, N]: Gemm with transB = 1 stores it as [N, K] (nn.Linear's weight).
        int k = (int)weight.Dims[transposed ? 1 : 0], n = (int)weight.Dims[transposed ? 0 : 1];
        float[] w = transposed ? WeightCatalog.Transpose(weight.Values, weight.Dims, [1, 0]).Values : weight.Values;
        string prefix = TensorPrefix(weightName, transposed, options);
        string nodeName = node.Name.Length > 0 ? node.Name : $"{prefix}.{index}";
        long bytesBefore = weight.StoredBytes;

        // A layer computing in float16 or bfloat16: the quantized op runs in float, between a Cast of the activation
        // to float and a Cast of the result back.
        bool half = weight.ElementType != OnnxDataType.Float;
        string x = half ? $"{nodeName}.x.float" : node.Inputs[0];
        string[] outputs = half ? [$"{nodeName}.y.float"] : node.Outputs;
        var nodes = new ProtoWriter();
        if (half)
        {
            nodes.Message(OnnxFields.Graph.Node, OnnxModelBuilder.NodeProto("Cast", $"{nodeName}.to_float", [node.Inputs[0]], [x], OnnxDomains.Default, new NodeAttribute("to", OnnxDataType.Float)));
        }

        (string Name, ProtoWriter Tensor)[] tensors;
        if (options.Target == ConversionTarget.BitLinear)
        {
            var (ternary, beta, dequantized) = WeightQuantizer.Ternarize(w, k, n);
            var layout = options.TernaryLayout;
            byte[] packed = layout.Pack(ternary, n, k);
            if (!alreadyQuantized)
            {
                layers.Add(new LayerReport(label, weightName, k, n, WeightQuantizer.SqnrDb(w, dequantized), bytesBefore, packed.LongLength + 4));
            }

            tensors =
            [
                (prefix, OnnxModelBuilder.TensorProto(prefix, Protocol.TensorDType.UInt8, layout.WeightShape(n, k), packed.AsSpan())),
                (prefix + ".beta", OnnxModelBuilder.TensorProto(prefix + ".beta", Protocol.TensorDType.Float32, [1], new[] { beta }.AsSpan())),
            ];
            string[] ternaryInputs = [x, prefix, prefix + ".beta"];
            if (bias is not null)
            {
                // BitLinear's optional bias input takes the Gemm's bias as an [N] vector.
                string biasName = $"{node.Inputs[2]}.vector";
                tensors = [.. tensors, (biasName, OnnxModelBuilder.TensorProto(biasName, Protocol.TensorDType.Float32, [n], bias.Values.AsSpan()))];
                ternaryInputs = [.. ternaryInputs, biasName];
            }

            nodes.Message(OnnxFields.Graph.Node, OnnxModelBuilder.NodeProto("BitLinear", nodeName, ternaryInputs, outputs, OnnxDomains.EdgeRuntime, layout.NodeAttributes()));
        }
        else
        {
            var (weights, int4) = WeightQuantizer.Int4(w, k, n, options.BlockSize, options.ZeroPoints);
            var shape = weights.Shape;
            long after = weights.B.LongLength + (weights.Scales.LongLength * 4) + (weights.ZeroPoints?.LongLength ?? 0);
            if (!alreadyQuantized)
            {
                layers.Add(new LayerReport(label, weightName, k, n, WeightQuantizer.SqnrDb(w, int4), bytesBefore, after));
            }

            var list = new List<(string, ProtoWriter)>
            {
                (prefix, OnnxModelBuilder.TensorProto(prefix, Protocol.TensorDType.UInt8, [shape.N, shape.KBlocks, shape.BlobBytes], weights.B.AsSpan())),
                (prefix + ".scales", OnnxModelBuilder.TensorProto(prefix + ".scales", Protocol.TensorDType.Float32, [shape.N * shape.KBlocks], weights.Scales.AsSpan())),
            };
            var inputs = new List<string> { x, prefix, prefix + ".scales" };
            if (weights.ZeroPoints is { } zeroPoints)
            {
                list.Add((prefix + ".zero_points", OnnxModelBuilder.TensorProto(prefix + ".zero_points", Protocol.TensorDType.UInt8, [zeroPoints.Length], zeroPoints.AsSpan())));
                inputs.Add(prefix + ".zero_points");
            }

            if (bias is not null)
            {
                // MatMulNBits' bias is input 5 and must be [N]; absent inputs in between are empty names.
                string biasName = $"{node.Inputs[2]}.vector";
                list.Add((biasName, OnnxModelBuilder.TensorProto(biasName, Protocol.TensorDType.Float32, [n], bias.Values.AsSpan())));
                while (inputs.Count < 5)
                {
                    inputs.Add(string.Empty);
                }

                inputs.Add(biasName);
            }

            tensors = [.. list];
            nodes.Message(OnnxFields.Graph.Node, OnnxModelBuilder.NodeProto("MatMulNBits", nodeName, [.. inputs], outputs, OnnxDomains.Microsoft,
                new NodeAttribute("K", k), new NodeAttribute("N", n), new NodeAttribute("bits", 4),
                new NodeAttribute("block_size", options.BlockSize), new NodeAttribute("accuracy_level", options.AccuracyLevel)));
        }

        if (half)
        {
            nodes.Message(OnnxFields.Graph.Node, OnnxModelBuilder.NodeProto("Cast", $"{nodeName}.to_{(weight.ElementType == OnnxDataType.Float16 ? "float16" : "bfloat16")}", outputs, node.Outputs, OnnxDomains.Default, new NodeAttribute("to", weight.ElementType)));
        }

        return (nodes, tensors);
    }
}
