using EdgeRuntime.Conversion.Weights;
using EdgeRuntime.Kernels.Int8;
using EdgeRuntime.Onnx;

namespace EdgeRuntime.Conversion;

/// <summary>
/// <c>--to int8-packed</c>: a MatMulInteger or QLinearMatMul (standard domain, or ours not yet packed) whose B is a
/// constant 2-D int8 or uint8 initializer becomes ai.edgeruntime's op of the same name with B stored in
/// <see cref="PackedInt8Weights"/>' layout and the attributes packed_b = 1, K and N. Every other input is kept. Our op
/// then reads B where ONNX Runtime holds the initializer instead of repacking it into a second copy when the session
/// is created. Nothing is rounded: the outputs are bit for bit the same.
/// </summary>
internal static class Int8Packing
{
    /// <summary>Which input holds B: 1 for MatMulInteger, 3 for QLinearMatMul, -1 for any other op.</summary>
    public static int WeightInput(OnnxNodeProto node) => node.OpType switch
    {
        "MatMulInteger" => 1,
        "QLinearMatMul" => 3,
        _ => -1,
    };

    public static (byte[] Nodes, ProtoWriter[] Initializers)? Pack(OnnxNodeProto node, int index, Dictionary<string, TensorValue> initializers, string? modelDirectory, List<LayerReport> layers, List<string> skipped, HashSet<string> emitted)
    {
        int weightInput = WeightInput(node);
        bool ours = node.Domain == OnnxDomains.EdgeRuntime;
        if (weightInput < 0 || !(ours || node.Domain is OnnxDomains.Default or OnnxDomains.AiOnnx) || node.Inputs.Count <= weightInput)
        {
            return null;
        }

        string label = node.Name.Length > 0 ? node.Name : $"{node.OpType} #{index}";
        if (ours && node.Int("packed_b") != 0)
        {
            skipped.Add($"{label}: its weights are already packed");
            return null;
        }

        if (!initializers.TryGetValue(node.Inputs[weightInput], out var weight))
        {
            skipped.Add($"{label}: its weights '{node.Inputs[weightInput]}' are not an initializer");
            return null;
        }

        byte[]? raw = weight.RawBytes(modelDirectory);
        if (Problem(weight, raw) is { } problem)
        {
            skipped.Add($"{label}: weights '{weight.Name}' {problem}");
            return null;
        }

        int k = (int)weight.Dims[0], n = (int)weight.Dims[1];
        bool signed = weight.DataType == OnnxDataType.Int8;
        string name = $"{weight.Name}.packed";
        long packedBytes = PackedInt8Weights.PackedBytes(k, n);
        var tensors = new List<ProtoWriter>();
        if (emitted.Add(name))
        {
            // Shared weights are packed and stored once, and reported once.
            var packed = new sbyte[packedBytes];
            PackedInt8Weights.PackInto(raw!, k, n, signed, packed); // Problem refused a null raw.
            var dtype = signed ? Protocol.TensorDType.Int8 : Protocol.TensorDType.UInt8;
            tensors.Add(OnnxModelBuilder.TensorProto(name, dtype, PackedInt8Weights.PackedShape(k, n), (ReadOnlySpan<sbyte>)packed));
            layers.Add(new LayerReport(label, weight.Name, k, n, double.PositiveInfinity, (long)k * n, packedBytes));
        }

        string[] inputs = [.. node.Inputs];
        inputs[weightInput] = name;
        var replacement = OnnxModelBuilder.NodeProto(node.OpType, node.Name.Length > 0 ? node.Name : $"{name}.{index}", inputs, node.Outputs, OnnxDomains.EdgeRuntime,
            new NodeAttribute("packed_b", 1), new NodeAttribute("K", k), new NodeAttribute("N", n));
        return (new ProtoWriter().Message(OnnxFields.Graph.Node, replacement).ToArray(), [.. tensors]);
    }

    private static string? Problem(TensorValue weight, byte[]? raw) => weight switch
    {
        { DataType: not (OnnxDataType.Int8 or OnnxDataType.UInt8) } => $"have ONNX data type {weight.DataType}, not int8 or uint8",
        { Dims.Length: not 2 } => $"have rank {weight.Dims.Length}, not 2 (one B per batch is not packed)",
        _ when weight.Dims[0] == 0 || weight.Dims[1] == 0 => "are empty",
        _ when weight.Dims[0] > int.MaxValue / Math.Max(1, weight.Dims[1]) => "are too large",
        _ when raw is null => "are not stored as raw bytes",
        _ when raw.LongLength != weight.Dims[0] * weight.Dims[1] => $"hold {raw.LongLength} bytes; their shape [{weight.Dims[0]}, {weight.Dims[1]}] needs {weight.Dims[0] * weight.Dims[1]}",
        _ => null,
    };
}
