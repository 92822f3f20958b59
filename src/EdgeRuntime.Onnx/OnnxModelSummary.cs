namespace EdgeRuntime.Inference.Onnx;

/// <summary>A graph input as declared in the model: each dim is a fixed size, or null with the symbolic name (if any).</summary>
public sealed record OnnxGraphInput(string Name, int ElementType, OnnxDim[] Shape)
{
    public bool IsStatic => Shape.All(d => d.Value is > 0);
}

public readonly record struct OnnxDim(long? Value, string? Symbol)
{
    public override string ToString() => Value?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? Symbol ?? "?";
}

public sealed record OnnxNode(string Name, string OpType, string Domain);

/// <summary>
/// The structure of an ONNX model read straight from its protobuf: opsets, graph inputs (initializers excluded) and
/// every node, including those in subgraphs. Used to judge a model before it is offered to a provider.
/// </summary>
public sealed record OnnxModelSummary(IReadOnlyDictionary<string, long> Opsets, OnnxGraphInput[] Inputs, OnnxNode[] Nodes)
{
    public static OnnxModelSummary Read(ReadOnlySpan<byte> model)
    {
        var opsets = new Dictionary<string, long>(StringComparer.Ordinal);
        OnnxGraphInput[] inputs = [];
        var nodes = new List<OnnxNode>();
        var reader = new ProtoReader(model);
        while (reader.Next())
        {
            if (reader.Field == 8 && reader.WireType == 2)
            {
                ReadOpset(reader.ReadBytes(), opsets);
            }
            else if (reader.Field == 7 && reader.WireType == 2)
            {
                inputs = ReadGraph(reader.ReadBytes(), nodes, depth: 0);
            }
            else
            {
                reader.Skip();
            }
        }

        return new OnnxModelSummary(opsets, inputs, [.. nodes]);
    }

    public static OnnxModelSummary ReadFile(string path) => Read(File.ReadAllBytes(path));

    private static void ReadOpset(ReadOnlySpan<byte> bytes, Dictionary<string, long> opsets)
    {
        string domain = string.Empty;
        long version = 0;
        var reader = new ProtoReader(bytes);
        while (reader.Next())
        {
            switch (reader.Field, reader.WireType)
            {
                case (1, 2): domain = reader.ReadString(); break;
                case (2, 0): version = (long)reader.ReadVarint(); break;
                default: reader.Skip(); break;
            }
        }

        opsets[domain] = version;
    }

    // Real models nest control flow a few levels deep; a crafted one could nest until the stack overflows.
    private const int MaxGraphDepth = 64;

    private static OnnxGraphInput[] ReadGraph(ReadOnlySpan<byte> bytes, List<OnnxNode> nodes, int depth)
    {
        if (depth > MaxGraphDepth)
        {
            throw new InvalidDataException($"Subgraphs nested more than {MaxGraphDepth} deep.");
        }

        bool topLevel = depth == 0;
        var inputs = new List<OnnxGraphInput>();
        var initializers = new HashSet<string>(StringComparer.Ordinal);
        var reader = new ProtoReader(bytes);
        while (reader.Next())
        {
            switch (reader.Field, reader.WireType)
            {
                case (1, 2): ReadNode(reader.ReadBytes(), nodes, depth); break;
                case (5, 2) when topLevel: initializers.Add(ReadTensorName(reader.ReadBytes())); break;
                case (11, 2) when topLevel: inputs.Add(ReadValueInfo(reader.ReadBytes())); break;
                default: reader.Skip(); break;
            }
        }

        // Models before IR version 4 list initializers among the inputs; they are weights, not inputs.
        return [.. inputs.Where(i => !initializers.Contains(i.Name))];
    }

    private static void ReadNode(ReadOnlySpan<byte> bytes, List<OnnxNode> nodes, int depth)
    {
        string name = string.Empty, opType = string.Empty, domain = string.Empty;
        var reader = new ProtoReader(bytes);
        while (reader.Next())
        {
            switch (reader.Field, reader.WireType)
            {
                case (3, 2): name = reader.ReadString(); break;
                case (4, 2): opType = reader.ReadString(); break;
                case (7, 2): domain = reader.ReadString(); break;
                case (5, 2): ReadAttributeGraphs(reader.ReadBytes(), nodes, depth); break;
                default: reader.Skip(); break;
            }
        }

        nodes.Add(new OnnxNode(name, opType, domain));
    }

    // If, Loop and Scan carry subgraphs in attributes g (6) and graphs (11).
    private static void ReadAttributeGraphs(ReadOnlySpan<byte> bytes, List<OnnxNode> nodes, int depth)
    {
        var reader = new ProtoReader(bytes);
        while (reader.Next())
        {
            if ((reader.Field == 6 || reader.Field == 11) && reader.WireType == 2)
            {
                ReadGraph(reader.ReadBytes(), nodes, depth + 1);
            }
            else
            {
                reader.Skip();
            }
        }
    }

    private static string ReadTensorName(ReadOnlySpan<byte> bytes)
    {
        var reader = new ProtoReader(bytes);
        while (reader.Next())
        {
            if (reader.Field == 8 && reader.WireType == 2)
            {
                return reader.ReadString();
            }

            reader.Skip();
        }

        return string.Empty;
    }

    private static OnnxGraphInput ReadValueInfo(ReadOnlySpan<byte> bytes)
    {
        string name = string.Empty;
        int elementType = 0;
        var shape = new List<OnnxDim>();
        var reader = new ProtoReader(bytes);
        while (reader.Next())
        {
            switch (reader.Field, reader.WireType)
            {
                case (1, 2): name = reader.ReadString(); break;
                case (2, 2): elementType = ReadType(reader.ReadBytes(), shape); break;
                default: reader.Skip(); break;
            }
        }

        return new OnnxGraphInput(name, elementType, [.. shape]);
    }

    // TypeProto.tensor_type (1) → elem_type (1), shape (2) → dim (1) → dim_value (1) | dim_param (2).
    private static int ReadType(ReadOnlySpan<byte> bytes, List<OnnxDim> shape)
    {
        int elementType = 0;
        var type = new ProtoReader(bytes);
        while (type.Next())
        {
            if (type.Field != 1 || type.WireType != 2)
            {
                type.Skip();
                continue;
            }

            var tensor = new ProtoReader(type.ReadBytes());
            while (tensor.Next())
            {
                switch (tensor.Field, tensor.WireType)
                {
                    case (1, 0): elementType = (int)tensor.ReadVarint(); break;
                    case (2, 2): ReadShape(tensor.ReadBytes(), shape); break;
                    default: tensor.Skip(); break;
                }
            }
        }

        return elementType;
    }

    private static void ReadShape(ReadOnlySpan<byte> bytes, List<OnnxDim> shape)
    {
        var reader = new ProtoReader(bytes);
        while (reader.Next())
        {
            if (reader.Field != 1 || reader.WireType != 2)
            {
                reader.Skip();
                continue;
            }

            long? value = null;
            string? symbol = null;
            var dim = new ProtoReader(reader.ReadBytes());
            while (dim.Next())
            {
                switch (dim.Field, dim.WireType)
                {
                    case (1, 0): value = (long)dim.ReadVarint(); break;
                    case (2, 2): symbol = dim.ReadString(); break;
                    default: dim.Skip(); break;
                }
            }

            shape.Add(new OnnxDim(value, symbol));
        }
    }
}
