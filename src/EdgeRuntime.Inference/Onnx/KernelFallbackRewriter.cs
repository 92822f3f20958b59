using System.Buffers;

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
    public const string Domain = "ai.edgeruntime";

    /// <summary>The (domain, op type) pairs we have fallback kernels for.</summary>
    public static IReadOnlyList<(string Domain, string OpType)> Handled { get; } =
        [("com.microsoft", "MatMulNBits"), (string.Empty, "MatMulInteger"), (string.Empty, "QLinearMatMul")];

    /// <summary>Rewrites the chosen nodes; returns the model unchanged (same array) when none qualify.</summary>
    public static (byte[] Model, IReadOnlyList<RewrittenNode> Nodes) Rewrite(byte[] model, KernelFallbackMode mode, string primaryProvider)
    {
        if (mode == KernelFallbackMode.Off)
        {
            return (model, []);
        }

        var initializerTypes = InitializerTypes(model);
        var rewritten = new List<RewrittenNode>();
        var output = new ArrayBufferWriter<byte>(model.Length + 64);
        bool hasOpset = false;
        var reader = new ProtoReader(model);
        int start = 0;
        while (reader.Next())
        {
            if (reader.Field == 7 && reader.WireType == 2)
            {
                var graph = RewriteGraph(reader.ReadBytes(), mode, primaryProvider, initializerTypes, rewritten);
                WriteBytesField(output, 7, graph);
            }
            else
            {
                if (reader.Field == 8 && reader.WireType == 2)
                {
                    hasOpset |= OnnxNodeProto.FirstString(reader.ReadBytes(), 1) == Domain;
                }
                else
                {
                    reader.Skip();
                }

                output.Write(model.AsSpan(start, reader.Position - start));
            }

            start = reader.Position;
        }

        if (rewritten.Count == 0)
        {
            return (model, []);
        }

        if (!hasOpset)
        {
            var opset = new ArrayBufferWriter<byte>();
            WriteBytesField(opset, 1, System.Text.Encoding.UTF8.GetBytes(Domain));
            WriteTag(opset, 2, 0);
            WriteVarint(opset, 1);
            WriteBytesField(output, 8, opset.WrittenSpan);
        }

        return (output.WrittenSpan.ToArray(), rewritten);
    }

    private static byte[] RewriteGraph(ReadOnlySpan<byte> graph, KernelFallbackMode mode, string primaryProvider, Dictionary<string, int> initializerTypes, List<RewrittenNode> rewritten)
    {
        var output = new ArrayBufferWriter<byte>(graph.Length + 64);
        var reader = new ProtoReader(graph);
        int start = 0;
        while (reader.Next())
        {
            if (reader.Field == 1 && reader.WireType == 2)
            {
                var node = reader.ReadBytes();
                var parsed = OnnxNodeProto.Read(node);
                string? reason = Decide(parsed, mode, primaryProvider, initializerTypes);
                if (reason is not null)
                {
                    rewritten.Add(new RewrittenNode(parsed.Name, parsed.OpType, parsed.Domain, reason));
                    WriteBytesField(output, 1, WithDomain(node));
                }
                else
                {
                    output.Write(graph[start..reader.Position]);
                }
            }
            else
            {
                reader.Skip();
                output.Write(graph[start..reader.Position]);
            }

            start = reader.Position;
        }

        return output.WrittenSpan.ToArray();
    }

    private static string? Decide(OnnxNodeProto node, KernelFallbackMode mode, string primaryProvider, Dictionary<string, int> initializerTypes)
    {
        string domain = node.Domain == "ai.onnx" ? string.Empty : node.Domain;
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
        const int Float = 1;
        string Input(int index) => index < node.Inputs.Count ? node.Inputs[index] : string.Empty;
        int TypeOf(int index) => knownTypes.GetValueOrDefault(Input(index));
        if (node.OpType == "QLinearMatMul")
        {
            // Our registrations take float scales and give y a's type: the types must be known from the graph.
            if (TypeOf(1) != Float || TypeOf(4) != Float || TypeOf(6) != Float)
            {
                return "scales not float";
            }

            return TypeOf(2) == 0 || TypeOf(2) != TypeOf(7) ? "y type differs from a's" : null;
        }

        if (node.OpType != "MatMulNBits")
        {
            return null;
        }

        // Float A, scales and bias only (ORT also allows float16, common in GPU models): the scales' type shows which.
        if (TypeOf(2) != Float || (Input(5).Length > 0 && TypeOf(5) != Float))
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
        if (Input(3).Length > 0 && TypeOf(3) != 2)
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
            if (reader.Field != 7 || reader.WireType != 2)
            {
                reader.Skip();
                continue;
            }

            var graph = new ProtoReader(reader.ReadBytes());
            while (graph.Next())
            {
                if (graph.WireType == 2 && graph.Field == 5)
                {
                    var (name, type) = TensorType(graph.ReadBytes());
                    types[name] = type;
                }
                else if (graph.WireType == 2 && graph.Field is 11 or 13)
                {
                    var (name, type) = ValueInfoType(graph.ReadBytes());
                    types.TryAdd(name, type);
                }
                else
                {
                    graph.Skip();
                }
            }
        }

        return types;
    }

    // TensorProto: data_type (2), name (8).
    private static (string Name, int Type) TensorType(ReadOnlySpan<byte> tensor)
    {
        var reader = new ProtoReader(tensor);
        string name = string.Empty;
        int type = 0;
        while (reader.Next())
        {
            if (reader.Field == 8 && reader.WireType == 2)
            {
                name = reader.ReadString();
            }
            else if (reader.Field == 2 && reader.WireType == 0)
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

    // ValueInfoProto: name (1), type (2) -> TypeProto.tensor_type (1) -> elem_type (1).
    private static (string Name, int Type) ValueInfoType(ReadOnlySpan<byte> valueInfo)
    {
        var reader = new ProtoReader(valueInfo);
        string name = string.Empty;
        int type = 0;
        while (reader.Next())
        {
            if (reader.Field == 1 && reader.WireType == 2)
            {
                name = reader.ReadString();
            }
            else if (reader.Field == 2 && reader.WireType == 2)
            {
                type = FirstVarint(FirstBytes(reader.ReadBytes(), 1), 1);
            }
            else
            {
                reader.Skip();
            }
        }

        return (name, type);
    }

    private static ReadOnlySpan<byte> FirstBytes(ReadOnlySpan<byte> message, int field)
    {
        var reader = new ProtoReader(message);
        while (reader.Next())
        {
            if (reader.Field == field && reader.WireType == 2)
            {
                return reader.ReadBytes();
            }

            reader.Skip();
        }

        return default;
    }

    private static int FirstVarint(ReadOnlySpan<byte> message, int field)
    {
        var reader = new ProtoReader(message);
        while (reader.Next())
        {
            if (reader.Field == field && reader.WireType == 0)
            {
                return (int)reader.ReadVarint();
            }

            reader.Skip();
        }

        return 0;
    }

    // The node with its domain field (7) replaced by ours; every other field copied as it was.
    private static byte[] WithDomain(ReadOnlySpan<byte> node)
    {
        var output = new ArrayBufferWriter<byte>(node.Length + 16);
        var reader = new ProtoReader(node);
        int start = 0;
        while (reader.Next())
        {
            reader.Skip();
            if (reader.Field != 7)
            {
                output.Write(node[start..reader.Position]);
            }

            start = reader.Position;
        }

        WriteBytesField(output, 7, System.Text.Encoding.UTF8.GetBytes(Domain));
        return output.WrittenSpan.ToArray();
    }

    private static void WriteBytesField(IBufferWriter<byte> output, int field, ReadOnlySpan<byte> value)
    {
        WriteTag(output, field, 2);
        WriteVarint(output, (ulong)value.Length);
        output.Write(value);
    }

    private static void WriteTag(IBufferWriter<byte> output, int field, int wireType) => WriteVarint(output, ((ulong)field << 3) | (uint)wireType);

    private static void WriteVarint(IBufferWriter<byte> output, ulong value)
    {
        Span<byte> bytes = stackalloc byte[10];
        int length = 0;
        do
        {
            byte b = (byte)(value & 0x7f);
            value >>= 7;
            bytes[length++] = value != 0 ? (byte)(b | 0x80) : b;
        }
        while (value != 0);
        output.Write(bytes[..length]);
    }
}
