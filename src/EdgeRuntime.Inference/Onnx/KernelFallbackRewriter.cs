using EdgeRuntime.Onnx;

namespace EdgeRuntime.Inference.Onnx;

/// <summary>A node moved onto one of our ai.edgeruntime kernels at load time, and why.</summary>
public sealed record RewrittenNode(string Name, string OpType, string FromDomain, string Reason);

/// <summary>Which nodes a load moves onto our kernels.</summary>
public enum KernelFallbackMode
{
    /// <summary>Nodes the primary provider lacks (see <see cref="ProviderOpSupport"/>) and that our kernels handle.</summary>
    Auto,

    /// <summary>Every node our kernels handle, whatever the provider (benchmarks, or a provider whose kernel misbehaves).</summary>
    Force,

    /// <summary>No rewriting.</summary>
    Off,
}

/// <summary>
/// Rewrites an ONNX model's nodes onto our ai.edgeruntime ops by changing only their domain (our MatMulNBits,
/// MatMulInteger and QLinearMatMul take the same inputs and attributes as the originals) and adding the domain's opset
/// import. Everything else is copied byte for byte. Nodes inside subgraphs (If/Loop bodies) are left alone. A node is
/// only rewritten when our kernel can run it (bits, block size, zero-point type), so the rewrite never turns a
/// working model into a failing one.
/// </summary>
public static class KernelFallbackRewriter
{
    /// <summary>The (domain, op type) pairs we have fallback kernels for.</summary>
    public static IReadOnlyList<(string Domain, string OpType)> Handled { get; } =
        [(OnnxDomains.Microsoft, "MatMulNBits"), (OnnxDomains.Default, "MatMulInteger"), (OnnxDomains.Default, "QLinearMatMul")];

    /// <summary>Rewrites the chosen nodes; returns the model unchanged (same array) when none qualify.</summary>
    public static (byte[] Model, IReadOnlyList<RewrittenNode> Nodes) Rewrite(byte[] model, KernelFallbackMode mode, string primaryProvider)
    {
        if (mode == KernelFallbackMode.Off)
        {
            return (model, []);
        }

        var initializerTypes = InitializerTypes(model);
        var rewritten = new List<RewrittenNode>();
        var output = new ProtoWriter();
        bool hasOpset = false;
        var reader = new ProtoReader(model);
        int start = 0;
        while (reader.Next())
        {
            if (reader.Is(OnnxFields.Model.Graph, WireType.LengthDelimited))
            {
                var graph = RewriteGraph(reader.ReadBytes(), mode, primaryProvider, initializerTypes, rewritten);
                output.Bytes(OnnxFields.Model.Graph, graph);
            }
            else
            {
                if (reader.Is(OnnxFields.Model.OpsetImport, WireType.LengthDelimited))
                {
                    hasOpset |= ProtoReader.FirstString(reader.ReadBytes(), OnnxFields.OperatorSetId.Domain) == OnnxDomains.EdgeRuntime;
                }
                else
                {
                    reader.Skip();
                }

                output.Raw(model.AsSpan(start, reader.Position - start));
            }

            start = reader.Position;
        }

        if (rewritten.Count == 0)
        {
            return (model, []);
        }

        if (!hasOpset)
        {
            output.Message(OnnxFields.Model.OpsetImport, new ProtoWriter()
                .String(OnnxFields.OperatorSetId.Domain, OnnxDomains.EdgeRuntime)
                .Varint(OnnxFields.OperatorSetId.Version, 1));
        }

        return (output.ToArray(), rewritten);
    }

    private static byte[] RewriteGraph(ReadOnlySpan<byte> graph, KernelFallbackMode mode, string primaryProvider, Dictionary<string, int> initializerTypes, List<RewrittenNode> rewritten)
    {
        var output = new ProtoWriter();
        var reader = new ProtoReader(graph);
        int start = 0;
        while (reader.Next())
        {
            if (reader.Is(OnnxFields.Graph.Node, WireType.LengthDelimited))
            {
                var node = reader.ReadBytes();
                var parsed = OnnxNodeProto.Read(node);
                string? reason = Decide(parsed, mode, primaryProvider, initializerTypes);
                if (reason is not null)
                {
                    rewritten.Add(new RewrittenNode(parsed.Name, parsed.OpType, parsed.Domain, reason));
                    output.Bytes(OnnxFields.Graph.Node, WithDomain(node));
                }
                else
                {
                    output.Raw(graph[start..reader.Position]);
                }
            }
            else
            {
                reader.Skip();
                output.Raw(graph[start..reader.Position]);
            }

            start = reader.Position;
        }

        return output.ToArray();
    }

    private static string? Decide(OnnxNodeProto node, KernelFallbackMode mode, string primaryProvider, Dictionary<string, int> initializerTypes)
    {
        string domain = node.Domain == OnnxDomains.AiOnnx ? OnnxDomains.Default : node.Domain;
        if (!Handled.Contains((domain, node.OpType)) || CannotRun(node, initializerTypes) is not null)
        {
            return null;
        }

        string qualified = domain.Length == 0 ? node.OpType : $"{domain}.{node.OpType}";
        if (mode == KernelFallbackMode.Force)
        {
            return "kernelFallback is force";
        }

        return ProviderOpSupport.Lacks(primaryProvider, domain, node.OpType, node.Int("bits", 4))
            ? $"{primaryProvider} lacks {qualified}{(node.OpType == "MatMulNBits" ? $" (bits={node.Int("bits", 4)})" : string.Empty)}"
            : null;
    }

    /// <summary>Why our kernel could not run a node, or null when it can.</summary>
    private static string? CannotRun(OnnxNodeProto node, Dictionary<string, int> knownTypes)
    {
        string Input(int index) => index < node.Inputs.Count ? node.Inputs[index] : string.Empty;
        int TypeOf(int index) => knownTypes.GetValueOrDefault(Input(index));
        if (node.OpType == "QLinearMatMul")
        {
            // Our registrations take float scales and give y a's type: the types must be known from the graph.
            if (TypeOf(1) != OnnxDataType.Float || TypeOf(4) != OnnxDataType.Float || TypeOf(6) != OnnxDataType.Float)
            {
                return "scales not float";
            }

            return TypeOf(2) == OnnxDataType.Undefined || TypeOf(2) != TypeOf(7) ? "y type differs from a's" : null;
        }

        if (node.OpType != "MatMulNBits")
        {
            return null;
        }

        // Float A, scales and bias only (ORT also allows float16, common in GPU models): the scales' type shows which.
        if (TypeOf(2) != OnnxDataType.Float || (Input(5).Length > 0 && TypeOf(5) != OnnxDataType.Float))
        {
            return "scales/bias not float";
        }

        long bits = node.Int("bits", 4), block = node.Int("block_size", 0);
        if (bits is not (2 or 4) || block is < 16 or > 256 || (block & (block - 1)) != 0)
        {
            return "bits/block_size";
        }

        if (node.Inputs.Count > 4 && node.Inputs[4].Length > 0)
        {
            return "g_idx";
        }

        // zero_points may be float (T1) in ORT's op; ours takes the packed uint8 form only.
        if (Input(3).Length > 0 && TypeOf(3) != OnnxDataType.UInt8)
        {
            return "zero_points type";
        }

        return null;
    }

    /// <summary>Element types of the top-level graph's initializers, inputs and value_info, by name.</summary>
    private static Dictionary<string, int> InitializerTypes(byte[] model)
    {
        var types = new Dictionary<string, int>(StringComparer.Ordinal);
        var reader = new ProtoReader(model);
        while (reader.Next())
        {
            if (!reader.Is(OnnxFields.Model.Graph, WireType.LengthDelimited))
            {
                reader.Skip();
                continue;
            }

            var graph = new ProtoReader(reader.ReadBytes());
            while (graph.Next())
            {
                if (graph.Is(OnnxFields.Graph.Initializer, WireType.LengthDelimited))
                {
                    var (name, type) = TensorType(graph.ReadBytes());
                    types[name] = type;
                }
                else if (graph.Is(OnnxFields.Graph.Input, WireType.LengthDelimited) || graph.Is(OnnxFields.Graph.ValueInfo, WireType.LengthDelimited))
                {
                    var info = OnnxModelSummary.ReadValueInfo(graph.ReadBytes());
                    types.TryAdd(info.Name, info.ElementType);
                }
                else
                {
                    graph.Skip();
                }
            }
        }

        return types;
    }

    // TensorProto: data_type and name.
    private static (string Name, int Type) TensorType(ReadOnlySpan<byte> tensor)
    {
        var reader = new ProtoReader(tensor);
        string name = string.Empty;
        int type = 0;
        while (reader.Next())
        {
            if (reader.Is(OnnxFields.Tensor.Name, WireType.LengthDelimited))
            {
                name = reader.ReadString();
            }
            else if (reader.Is(OnnxFields.Tensor.DataType, WireType.Varint))
            {
                type = (int)reader.ReadVarint();
            }
            else
            {
                reader.Skip();
            }
        }

        return (name, type);
    }

    // The node with its domain field replaced by ours; every other field copied as it was.
    private static byte[] WithDomain(ReadOnlySpan<byte> node)
    {
        var output = new ProtoWriter();
        var reader = new ProtoReader(node);
        int start = 0;
        while (reader.Next())
        {
            reader.Skip();
            if (reader.Field != OnnxFields.Node.Domain)
            {
                output.Raw(node[start..reader.Position]);
            }

            start = reader.Position;
        }

        return output.String(OnnxFields.Node.Domain, OnnxDomains.EdgeRuntime).ToArray();
    }
}
