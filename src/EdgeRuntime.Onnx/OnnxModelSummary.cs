namespace EdgeRuntime.Onnx;

/// <summary>A graph input as declared in the model: each dim is a fixed size, or null with the symbolic name (if any).</summary>
public sealed record OnnxGraphInput(string Name, int ElementType, OnnxDim[] Shape)
{
    public bool IsStatic => Shape.All(d => d.Value is > 0);
}

public readonly record struct OnnxDim(long? Value, string? Symbol)
{
    public override string ToString() => Value?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? Symbol ?? "?";
}

/// <summary>A node: its op, the tensors it reads and writes, and its integer attributes (a fitness check decides by them).</summary>
public sealed record OnnxNode(string Name, string OpType, string Domain, IReadOnlyList<string> Inputs, IReadOnlyList<string> Outputs, IReadOnlyDictionary<string, long> Ints)
{
    public OnnxNode(string name, string opType, string domain)
        : this(name, opType, domain, [], [], new Dictionary<string, long>())
    {
    }
}

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
            if (reader.Is(OnnxFields.Model.OpsetImport, WireType.LengthDelimited))
            {
                ReadOpset(reader.ReadBytes(), opsets);
            }
            else if (reader.Is(OnnxFields.Model.Graph, WireType.LengthDelimited))
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
                case (OnnxFields.OperatorSetId.Domain, WireType.LengthDelimited): domain = reader.ReadString(); break;
                case (OnnxFields.OperatorSetId.Version, WireType.Varint): version = (long)reader.ReadVarint(); break;
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
                case (OnnxFields.Graph.Node, WireType.LengthDelimited): ReadNode(reader.ReadBytes(), nodes, depth); break;
                case (OnnxFields.Graph.Initializer, WireType.LengthDelimited) when topLevel: initializers.Add(ReadTensorName(reader.ReadBytes())); break;
                case (OnnxFields.Graph.Input, WireType.LengthDelimited) when topLevel: inputs.Add(ReadValueInfo(reader.ReadBytes())); break;
                default: reader.Skip(); break;
            }
        }

        // Models before IR version 4 list initializers among the inputs; they are weights, not inputs.
        return [.. inputs.Where(i => !initializers.Contains(i.Name))];
    }

    private static void ReadNode(ReadOnlySpan<byte> bytes, List<OnnxNode> nodes, int depth)
    {
        string name = string.Empty, opType = string.Empty, domain = string.Empty;
        var inputs = new List<string>();
        var outputs = new List<string>();
        var ints = new Dictionary<string, long>(StringComparer.Ordinal);
        var reader = new ProtoReader(bytes);
        while (reader.Next())
        {
            switch (reader.Field, reader.WireType)
            {
                case (OnnxFields.Node.Name, WireType.LengthDelimited): name = reader.ReadString(); break;
                case (OnnxFields.Node.OpType, WireType.LengthDelimited): opType = reader.ReadString(); break;
                case (OnnxFields.Node.Domain, WireType.LengthDelimited): domain = reader.ReadString(); break;
                case (OnnxFields.Node.Input, WireType.LengthDelimited): inputs.Add(reader.ReadString()); break;
                case (OnnxFields.Node.Output, WireType.LengthDelimited): outputs.Add(reader.ReadString()); break;
                case (OnnxFields.Node.Attribute, WireType.LengthDelimited): ReadAttribute(reader.ReadBytes(), nodes, depth, ints); break;
                default: reader.Skip(); break;
            }
        }

        nodes.Add(new OnnxNode(name, opType, domain, inputs, outputs, ints));
    }

    // An attribute's integer value (kept by name), and the subgraphs If, Loop and Scan carry in attributes g and graphs.
    private static void ReadAttribute(ReadOnlySpan<byte> bytes, List<OnnxNode> nodes, int depth, Dictionary<string, long> ints)
    {
        string name = string.Empty;
        long? value = null;
        var reader = new ProtoReader(bytes);
        while (reader.Next())
        {
            if (reader.Is(OnnxFields.Attribute.G, WireType.LengthDelimited) || reader.Is(OnnxFields.Attribute.Graphs, WireType.LengthDelimited))
            {
                ReadGraph(reader.ReadBytes(), nodes, depth + 1);
            }
            else if (reader.Is(OnnxFields.Attribute.Name, WireType.LengthDelimited))
            {
                name = reader.ReadString();
            }
            else if (reader.Is(OnnxFields.Attribute.I, WireType.Varint))
            {
                value = (long)reader.ReadVarint();
            }
            else
            {
                reader.Skip();
            }
        }

        if (value is { } v && name.Length > 0)
        {
            ints[name] = v;
        }
    }

    private static string ReadTensorName(ReadOnlySpan<byte> bytes) => ProtoReader.FirstString(bytes, OnnxFields.Tensor.Name);

    /// <summary>A ValueInfoProto: its name, element type (0 when not a tensor) and shape.</summary>
    public static OnnxGraphInput ReadValueInfo(ReadOnlySpan<byte> bytes)
    {
        string name = string.Empty;
        int elementType = 0;
        var shape = new List<OnnxDim>();
        var reader = new ProtoReader(bytes);
        while (reader.Next())
        {
            switch (reader.Field, reader.WireType)
            {
                case (OnnxFields.ValueInfo.Name, WireType.LengthDelimited): name = reader.ReadString(); break;
                case (OnnxFields.ValueInfo.Type, WireType.LengthDelimited): elementType = ReadType(reader.ReadBytes(), shape); break;
                default: reader.Skip(); break;
            }
        }

        return new OnnxGraphInput(name, elementType, [.. shape]);
    }

    // TypeProto.tensor_type → elem_type, shape → dim → dim_value | dim_param.
    private static int ReadType(ReadOnlySpan<byte> bytes, List<OnnxDim> shape)
    {
        int elementType = 0;
        var type = new ProtoReader(bytes);
        while (type.Next())
        {
            if (!type.Is(OnnxFields.TypeProto.TensorType, WireType.LengthDelimited))
            {
                type.Skip();
                continue;
            }

            var tensor = new ProtoReader(type.ReadBytes());
            while (tensor.Next())
            {
                switch (tensor.Field, tensor.WireType)
                {
                    case (OnnxFields.TensorType.ElemType, WireType.Varint): elementType = (int)tensor.ReadVarint(); break;
                    case (OnnxFields.TensorType.Shape, WireType.LengthDelimited): ReadShape(tensor.ReadBytes(), shape); break;
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
            if (!reader.Is(OnnxFields.Shape.Dim, WireType.LengthDelimited))
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
                    case (OnnxFields.Dimension.DimValue, WireType.Varint): value = (long)dim.ReadVarint(); break;
                    case (OnnxFields.Dimension.DimParam, WireType.LengthDelimited): symbol = dim.ReadString(); break;
                    default: dim.Skip(); break;
                }
            }

            shape.Add(new OnnxDim(value, symbol));
        }
    }
}
