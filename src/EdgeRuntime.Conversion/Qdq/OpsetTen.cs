using EdgeRuntime.Onnx;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Conversion.Qdq;

/// <summary>
/// Moves a model below opset 10 to opset 10, the first with the integer ops (QLinearConv, MatMulInteger) that ONNX
/// Runtime fuses a QDQ graph into: the fused node takes the model's opset, and below 10 no kernel is registered for it.
/// Of the ops whose schema changed at 10, Slice and TopK are rewritten (their starts/ends/axes and k move from attributes
/// to inputs); AveragePool, MaxPool and Dropout read the same under 10. Upsample, deprecated at 10, is refused.
/// </summary>
internal static class OpsetTen
{
    public const int Version = 10;

    /// <summary>Rewrites the graph's nodes for opset 10; the reason it cannot, or null.</summary>
    public static string? Upgrade(EditableGraph graph)
    {
        var standard = graph.Nodes.Where(n => BatchNormFolding.IsStandard(n.Proto)).ToList();
        if (standard.FirstOrDefault(n => n.Proto.OpType == "Upsample") is { } upsample)
        {
            return $"the model is opset {Version - 1} or below and has an Upsample node ('{upsample.Proto.Name}'), which opset {Version} deprecates: convert the model to opset 10 or later first (onnx.version_converter)";
        }

        foreach (var node in standard.Where(n => n.Proto.OpType == "Slice"))
        {
            var p = node.Proto;
            var inputs = new List<string> { p.Inputs[0], Constant(graph, p, "starts"), Constant(graph, p, "ends") };
            if (p.IntLists.ContainsKey("axes"))
            {
                inputs.Add(Constant(graph, p, "axes"));
            }

            node.Rewire(inputs, p.Outputs);
            node.RemoveAttributes("starts", "ends", "axes");
        }

        foreach (var node in standard.Where(n => n.Proto.OpType == "TopK"))
        {
            var p = node.Proto;
            string k = graph.FreshName($"{p.Outputs[0]}.k");
            graph.AddInitializer(k, OnnxModelBuilder.TensorProto(k, TensorDType.Int64, [1], new[] { p.Int("k") }.AsSpan()));
            node.Rewire([p.Inputs[0], k], p.Outputs);
            node.RemoveAttributes("k");
        }

        return null;
    }

    private static string Constant(EditableGraph graph, OnnxNodeProto node, string attribute)
    {
        long[] values = node.IntLists.TryGetValue(attribute, out var given) ? given : [];
        string name = graph.FreshName($"{node.Outputs[0]}.{attribute}");
        graph.AddInitializer(name, OnnxModelBuilder.TensorProto(name, TensorDType.Int64, [values.Length], values.AsSpan()));
        return name;
    }
}
