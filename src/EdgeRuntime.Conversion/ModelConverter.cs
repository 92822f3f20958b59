using System.Runtime.InteropServices;
using EdgeRuntime.Kernels.Ternary;
using EdgeRuntime.Onnx;

namespace EdgeRuntime.Conversion;

/// <summary>
/// Rewrites a float ONNX model's linear layers onto quantized ops: every MatMul (standard domain) whose second input is
/// a 2-D float initializer W [K, N], and every Gemm with such weights (transB 0 or 1, alpha = beta = 1, an optional
/// constant bias of N values: PyTorch's nn.Linear), becomes ai.edgeruntime::BitLinear or com.microsoft::MatMulNBits
/// (bits 4), the bias as the op's bias input, reading the same activation and writing the same output. The float weights are dropped when nothing else reads them;
/// every other field of the model is copied byte for byte, and the needed opset imports are added.
/// </summary>
public static class ModelConverter
{
    public static ConversionResult Convert(byte[] model, ConversionOptions options)
    {
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
        byte[] converted = ConvertGraph(graph, options, layers, skipped);
        if (layers.Count == 0)
        {
            return new ConversionResult(model, layers, skipped, model.LongLength);
        }

        output.Bytes(OnnxFields.Model.Graph, converted);
        string domain = options.Target is ConversionTarget.BitLinear or ConversionTarget.Int8Packed ? OnnxDomains.EdgeRuntime : OnnxDomains.Microsoft;
        if (!opsets.Contains(domain))
        {
            output.Message(OnnxFields.Model.OpsetImport, new ProtoWriter().String(OnnxFields.OperatorSetId.Domain, domain).Varint(OnnxFields.OperatorSetId.Version, 1));
        }

        return new ConversionResult(output.ToArray(), layers, skipped, model.LongLength);
    }

    private static byte[] ConvertGraph(byte[] graph, ConversionOptions options, List<LayerReport> layers, List<string> skipped)
    {
        var initializers = new Dictionary<string, Initializer>(StringComparer.Ordinal);
        var nodes = new List<OnnxNodeProto>();
        // Names the float weights must stay for: graph outputs and inputs (initializers listed as inputs, IR < 4) and
        // anything a subgraph (If/Loop/Scan body) reads from this graph.
        var keep = new HashSet<string>(StringComparer.Ordinal);
        var reader = new ProtoReader(graph);
        while (reader.Next())
        {
            switch (reader.Field, reader.WireType)
            {
                case (OnnxFields.Graph.Initializer, WireType.LengthDelimited):
                    var initializer = Initializer.Read(reader.ReadBytes());
                    initializers[initializer.Name] = initializer;
                    break;
                case (OnnxFields.Graph.Node, WireType.LengthDelimited):
                    var read = OnnxNodeProto.Read(reader.ReadBytes(), keep);
                    nodes.Add(read);
                    break;
                case (OnnxFields.Graph.Input or OnnxFields.Graph.Output, WireType.LengthDelimited):
                    keep.Add(ProtoReader.FirstString(reader.ReadBytes(), OnnxFields.ValueInfo.Name));
                    break;
                default:
                    reader.Skip();
                    break;
            }
        }

        // Which MatMuls convert, and which float weights nothing else reads afterwards.
        // Per converted node: the replacement's NodeProto fields (graph field 1, one or two nodes) and new initializers.
        var converted = new Dictionary<int, (byte[] Nodes, ProtoWriter[] Initializers)>();
        var emitted = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < nodes.Count; i++)
        {
            var node = nodes[i];
            if (options.Target == ConversionTarget.Int8Packed)
            {
                if (Int8Packing.Pack(node, i, initializers, layers, skipped, emitted) is { } packedNode)
                {
                    converted[i] = packedNode;
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

            if (!initializers.TryGetValue(node.Inputs[1], out var weight))
            {
                skipped.Add($"{label}: its weights '{node.Inputs[1]}' are not an initializer");
                continue;
            }

            if (weight.Problem() is { } problem)
            {
                skipped.Add($"{label}: weights '{weight.Name}' {problem}");
                continue;
            }

            Initializer? bias = null;
            if (gemm && node.Inputs.Count == 3 && node.Inputs[2].Length > 0)
            {
                long n = weight.Dims[node.Int("transB") == 1 ? 0 : 1];
                // [N] or [1, N]: one value per output column ([N, 1] would broadcast per row instead).
                if (!initializers.TryGetValue(node.Inputs[2], out bias) || bias.DataType != OnnxDataType.Float || bias.External || bias.Dims[^1] != n || bias.Dims.Length > 2 || (bias.Dims.Length == 2 && bias.Dims[0] != 1))
                {
                    skipped.Add($"{label}: its bias '{node.Inputs[2]}' is not a constant float [N] or [1, N] with N = {n}");
                    continue;
                }
            }

            var (replacement, added) = ConvertLayer(node, i, label, weight, node.Int("transB") == 1, bias, options, layers, emitted);
            converted[i] = (replacement.ToArray(), added);
        }

        var stillRead = new HashSet<string>(nodes.Where((_, i) => !converted.ContainsKey(i)).SelectMany(n => n.Inputs), StringComparer.Ordinal);
        var writer = new ProtoWriter();
        reader = new ProtoReader(graph);
        int start = 0, nodeIndex = 0;
        while (reader.Next())
        {
            if (reader.Is(OnnxFields.Graph.Node, WireType.LengthDelimited))
            {
                reader.Skip();
                if (converted.TryGetValue(nodeIndex++, out var replacement))
                {
                    writer.Raw(replacement.Nodes);
                    start = reader.Position;
                    continue;
                }
            }
            else if (reader.Is(OnnxFields.Graph.Initializer, WireType.LengthDelimited))
            {
                string name = ProtoReader.FirstString(reader.ReadBytes(), OnnxFields.Tensor.Name);
                bool dropped = layers.Any(l => l.Weight == name) && !stillRead.Contains(name) && !keep.Contains(name);
                if (dropped)
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
    private static (ProtoWriter Node, ProtoWriter[] Initializers) ConvertLayer(OnnxNodeProto node, int index, string label, Initializer weight, bool transposed, Initializer? bias, ConversionOptions options, List<LayerReport> layers, HashSet<string> emitted)
    {
        var (replacement, tensors) = ConvertLayer(node, index, label, weight, transposed, bias, options, layers, emitted.Contains(TensorPrefix(weight, transposed, options)));
        var fresh = tensors.Where(t => emitted.Add(t.Name)).Select(t => t.Tensor).ToArray();
        return (replacement, fresh);
    }

    private static string TensorPrefix(Initializer weight, bool transposed, ConversionOptions options) =>
        $"{weight.Name}.{(options.Target == ConversionTarget.BitLinear ? "ternary" : "int4")}{(transposed ? ".t" : string.Empty)}";

    private static (ProtoWriter Node, (string Name, ProtoWriter Tensor)[] Tensors) ConvertLayer(OnnxNodeProto node, int index, string label, Initializer weight, bool transposed, Initializer? bias, ConversionOptions options, List<LayerReport> layers, bool alreadyQuantized)
    {
        // W as [K, N]: Gemm with transB = 1 stores it as [N, K] (nn.Linear's weight).
        int k = (int)weight.Dims[transposed ? 1 : 0], n = (int)weight.Dims[transposed ? 0 : 1];
        float[] w = transposed ? Transpose(weight.Floats(), n, k) : weight.Floats();
        string prefix = TensorPrefix(weight, transposed, options);
        string nodeName = node.Name.Length > 0 ? node.Name : $"{prefix}.{index}";
        if (options.Target == ConversionTarget.BitLinear)
        {
            var (ternary, beta, dequantized) = WeightQuantizer.Ternarize(w, k, n);
            var layout = options.TernaryLayout;
            byte[] packed = layout.Pack(ternary, n, k);
            if (!alreadyQuantized)
            {
                layers.Add(new LayerReport(label, weight.Name, k, n, WeightQuantizer.SqnrDb(w, dequantized), (long)k * n * 4, packed.LongLength + 4));
            }

            (string, ProtoWriter)[] ternaryTensors =
            [
                (prefix, OnnxModelBuilder.TensorProto(prefix, Protocol.TensorDType.UInt8, layout.WeightShape(n, k), packed.AsSpan())),
                (prefix + ".beta", OnnxModelBuilder.TensorProto(prefix + ".beta", Protocol.TensorDType.Float32, [1], new[] { beta }.AsSpan())),
            ];
            string[] ternaryInputs = [node.Inputs[0], prefix, prefix + ".beta"];
            if (bias is not null)
            {
                // BitLinear's optional bias input takes the Gemm's bias as an [N] vector.
                string biasName = $"{bias.Name}.vector";
                ternaryTensors = [.. ternaryTensors, (biasName, OnnxModelBuilder.TensorProto(biasName, Protocol.TensorDType.Float32, [n], bias.Floats().AsSpan()))];
                ternaryInputs = [.. ternaryInputs, biasName];
            }

            return (new ProtoWriter().Message(OnnxFields.Graph.Node, OnnxModelBuilder.NodeProto("BitLinear", nodeName, ternaryInputs, node.Outputs, OnnxDomains.EdgeRuntime, layout.NodeAttributes())), ternaryTensors);
        }

        var (weights, int4) = WeightQuantizer.Int4(w, k, n, options.BlockSize, options.ZeroPoints);
        var shape = weights.Shape;
        long after = weights.B.LongLength + (weights.Scales.LongLength * 4) + (weights.ZeroPoints?.LongLength ?? 0);
        if (!alreadyQuantized)
        {
            layers.Add(new LayerReport(label, weight.Name, k, n, WeightQuantizer.SqnrDb(w, int4), (long)k * n * 4, after));
        }

        var tensors = new List<(string, ProtoWriter)>
        {
            (prefix, OnnxModelBuilder.TensorProto(prefix, Protocol.TensorDType.UInt8, [shape.N, shape.KBlocks, shape.BlobBytes], weights.B.AsSpan())),
            (prefix + ".scales", OnnxModelBuilder.TensorProto(prefix + ".scales", Protocol.TensorDType.Float32, [shape.N * shape.KBlocks], weights.Scales.AsSpan())),
        };
        var inputs = new List<string> { node.Inputs[0], prefix, prefix + ".scales" };
        if (weights.ZeroPoints is { } zeroPoints)
        {
            tensors.Add((prefix + ".zero_points", OnnxModelBuilder.TensorProto(prefix + ".zero_points", Protocol.TensorDType.UInt8, [zeroPoints.Length], zeroPoints.AsSpan())));
            inputs.Add(prefix + ".zero_points");
        }

        if (bias is not null)
        {
            // MatMulNBits' bias is input 5 and must be [N]; absent inputs in between are empty names.
            string biasName = $"{bias.Name}.vector";
            tensors.Add((biasName, OnnxModelBuilder.TensorProto(biasName, Protocol.TensorDType.Float32, [n], bias.Floats().AsSpan())));
            while (inputs.Count < 5)
            {
                inputs.Add(string.Empty);
            }

            inputs.Add(biasName);
        }

        var matMulNBits = OnnxModelBuilder.NodeProto("MatMulNBits", nodeName, [.. inputs], node.Outputs, OnnxDomains.Microsoft,
            new NodeAttribute("K", k), new NodeAttribute("N", n), new NodeAttribute("bits", 4),
            new NodeAttribute("block_size", options.BlockSize), new NodeAttribute("accuracy_level", options.AccuracyLevel));
        return (new ProtoWriter().Message(OnnxFields.Graph.Node, matMulNBits), [.. tensors]);
    }

    private static float[] Transpose(float[] m, int rows, int cols)
    {
        var t = new float[m.Length];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < cols; c++)
            {
                t[(c * rows) + r] = m[(r * cols) + c];
            }
        }

        return t;
    }

    /// <summary>The parts of a TensorProto the conversion reads (weights stored inline).</summary>
    internal sealed record Initializer(string Name, long[] Dims, int DataType, byte[]? Raw, float[]? FloatData, bool External)
    {
        public string? Problem() => (DataType, Dims.Length, External) switch
        {
            (_, _, true) => "are stored in an external data file (convert a model with inline weights)",
            (not 1, _, _) => $"have ONNX data type {DataType}, not float",
            (_, not 2, _) => $"have rank {Dims.Length}, not 2",
            _ when Dims[0] > int.MaxValue / Math.Max(1, Dims[1]) => "are too large",
            _ => null,
        };

        public float[] Floats()
        {
            long count = Dims.Aggregate(1L, (p, d) => p * d);
            float[] values = Raw is not null ? MemoryMarshal.Cast<byte, float>(Raw).ToArray() : FloatData ?? [];
            return values.LongLength == count ? values : throw new InvalidDataException($"Initializer '{Name}' holds {values.LongLength} floats; its shape [{string.Join(", ", Dims)}] needs {count}.");
        }

        public static Initializer Read(ReadOnlySpan<byte> bytes)
        {
            var reader = new ProtoReader(bytes);
            var dims = new List<long>();
            var floats = new List<float>();
            string name = string.Empty;
            int type = 0;
            byte[]? raw = null;
            bool external = false;
            while (reader.Next())
            {
                switch (reader.Field, reader.WireType)
                {
                    case (OnnxFields.Tensor.Dims, WireType.Varint): dims.Add((long)reader.ReadVarint()); break;
                    case (OnnxFields.Tensor.Dims, WireType.LengthDelimited):
                        var packedDims = new ProtoReader(reader.ReadBytes());
                        while (!packedDims.AtEnd)
                        {
                            dims.Add((long)packedDims.ReadVarint());
                        }

                        break;
                    case (OnnxFields.Tensor.DataType, WireType.Varint): type = (int)reader.ReadVarint(); break;
                    case (OnnxFields.Tensor.FloatData, WireType.LengthDelimited): floats.AddRange(MemoryMarshal.Cast<byte, float>(reader.ReadBytes()).ToArray()); break;
                    case (OnnxFields.Tensor.Name, WireType.LengthDelimited): name = reader.ReadString(); break;
                    case (OnnxFields.Tensor.RawData, WireType.LengthDelimited): raw = reader.ReadBytes().ToArray(); break;
                    case (OnnxFields.Tensor.DataLocation, WireType.Varint): external = reader.ReadVarint() == 1; break;
                    default: reader.Skip(); break;
                }
            }

            return new Initializer(name, [.. dims], type, raw, floats.Count > 0 ? [.. floats] : null, external);
        }
    }
}
