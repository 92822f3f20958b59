using EdgeRuntime.Onnx;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Conversion.Qdq;

/// <summary>
/// Moves a model at opset 6 to 9 to opset 10, the first with the integer ops (QLinearConv, MatMulInteger) that ONNX
/// Runtime fuses a QDQ graph into: the fused node takes the model's opset, and below 10 no kernel is registered for it.
/// What changed in between and is rewritten: Slice and TopK (10: starts/ends/axes and k move from attributes to
/// inputs) and BatchNormalization (9: the spatial attribute is gone; spatial=1, the default, is what 9 computes).
/// Refused with the reason: Upsample (deprecated at 10, its scales an input since 9), If/Loop/Scan (their bodies are not
/// moved; Scan also lost its batch axis at 9) and BatchNormalization with spatial=0. Every other op of 7 reads the same under 10 (8 and 9 only widened
/// types, broadcasting of Max/Min/Mean/Sum, and MaxPool's optional outputs). From 6 (PyTorch 0.3's exports): the
/// elementwise ops' broadcast/axis attributes, Gemm's broadcast, and BatchNormalization's and Dropout's is_test go,
/// as 7 computes the same without them; broadcasting along an axis, training mode (is_test=0), the recurrent ops and
/// PRelu, which 7 changed, are refused.
/// Below 6 the legacy consumed_inputs attributes differ again: such a model is refused before this runs.
/// </summary>
internal static class OpsetTen
{
    public const int Version = 10;

    /// <summary>The oldest opset moved to 10.</summary>
    public const int Oldest = 6;

    // Opset 7 dropped their broadcast/axis attributes for numpy broadcasting, which agrees where shapes are equal.
    private static readonly HashSet<string> AttributeBroadcasting = ["Add", "Sub", "Mul", "Div", "Pow", "And", "Or", "Xor", "Equal", "Greater", "Less"];

    /// <summary>Rewrites the graph's nodes of opset <paramref name="opset"/> for opset 10; the reason it cannot, or null.</summary>
    public static string? Upgrade(EditableGraph graph, long opset)
    {
        var standard = graph.Nodes.Where(n => BatchNormFolding.IsStandard(n.Proto)).ToList();
        string Refusal(string why) => $"the model is opset {opset} and {why}: convert it to opset 10 or later first (onnx.version_converter)";
        if (standard.FirstOrDefault(n => n.Proto.OpType == "Upsample") is { } upsample)
        {
            return Refusal($"has an Upsample node ('{upsample.Proto.Name}'), which opset {Version} deprecates");
        }

        // A body's nodes would need the same move, and their opset is the model's: not done, so refused.
        if (standard.FirstOrDefault(n => n.Proto.OpType is "If" or "Loop" or "Scan") is { } control)
        {
            return Refusal($"has a {control.Proto.OpType} node ('{control.Proto.Name}') whose body edge-convert does not move");
        }

        if (opset < 7 && SixToSeven(standard) is { } why)
        {
            return Refusal(why);
        }

        foreach (var node in standard.Where(n => n.Proto.OpType == "BatchNormalization" && n.Proto.Attributes.ContainsKey("spatial")))
        {
            if (node.Proto.Int("spatial", 1) != 1)
            {
                return Refusal($"has a BatchNormalization ('{node.Proto.Name}') with spatial=0, which opset 9 no longer computes");
            }

            node.RemoveAttributes("spatial");
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

    /// <summary>Drops the opset-6 attributes that 7 removed; the reason when a node means something 7 does not compute.</summary>
    private static string? SixToSeven(List<GraphNode> nodes)
    {
        foreach (var node in nodes)
        {
            var p = node.Proto;
            string? why = p.OpType switch
            {
                // broadcast=1 without an axis aligns B with A's trailing dimensions, as numpy does; with one it does not.
                _ when AttributeBroadcasting.Contains(p.OpType) && p.Int("broadcast") != 0 && p.Attributes.ContainsKey("axis") => $"has {p.OpType} '{p.Name}' broadcasting along axis {p.Int("axis")} (broadcast=1), which opset 7's numpy broadcasting does not do",
                "BatchNormalization" or "Dropout" when p.Int("is_test") == 0 => $"has a {p.OpType} ('{p.Name}') in training mode (is_test=0)",
                "GRU" or "LSTM" or "RNN" => $"has a {p.OpType} ('{p.Name}'), whose schema opset 7 changed",
                // PRelu-6 applies a per-channel slope [C]; from 7 the slope broadcasts from the last axis.
                "PRelu" => $"has a PRelu ('{p.Name}'), whose slope broadcasts differently from opset 7",
                _ => null,
            };
            if (why is not null)
            {
                return why;
            }

            if (AttributeBroadcasting.Contains(p.OpType))
            {
                node.RemoveAttributes("broadcast", "axis");
            }
            else if (p.OpType is "Gemm")
            {
                node.RemoveAttributes("broadcast");
            }
            else if (p.OpType is "BatchNormalization" or "Dropout")
            {
                node.RemoveAttributes("is_test");
            }
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
