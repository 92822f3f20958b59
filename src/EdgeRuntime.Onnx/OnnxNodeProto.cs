namespace EdgeRuntime.Onnx;

/// <summary>
/// The parts of an ONNX NodeProto the load-time rewrite and the model converter decide by: name, op type, domain,
/// inputs, outputs, the int and float attributes (AttributeProto i and f), the int lists (ints: Transpose's perm) and
/// the tensors (t: a Constant's value, kept as TensorProto bytes).
/// </summary>
public sealed record OnnxNodeProto(string Name, string OpType, string Domain, List<string> Inputs, string[] Outputs, Dictionary<string, double> Attributes)
{
    public Dictionary<string, long[]> IntLists { get; init; } = new(StringComparer.Ordinal);

    public Dictionary<string, byte[]> Tensors { get; init; } = new(StringComparer.Ordinal);

    public long Int(string name, long fallback = 0) => Attributes.TryGetValue(name, out double value) ? (long)value : fallback;

    public double Float(string name, double fallback) => Attributes.TryGetValue(name, out double value) ? value : fallback;

    /// <summary>Reads a node; when <paramref name="subgraphReads"/> is given, every name read inside its subgraphs (attributes g and graphs, recursively) goes into it.</summary>
    public static OnnxNodeProto Read(ReadOnlySpan<byte> bytes, HashSet<string>? subgraphReads = null)
    {
        var reader = new ProtoReader(bytes);
        string name = string.Empty, opType = string.Empty, domain = string.Empty;
        var inputs = new List<string>();
        var outputs = new List<string>();
        var attributes = new Dictionary<string, double>(StringComparer.Ordinal);
        var intLists = new Dictionary<string, long[]>(StringComparer.Ordinal);
        var tensors = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        while (reader.Next())
        {
            switch (reader.Field, reader.WireType)
            {
                case (OnnxFields.Node.Input, WireType.LengthDelimited): inputs.Add(reader.ReadString()); break;
                case (OnnxFields.Node.Output, WireType.LengthDelimited): outputs.Add(reader.ReadString()); break;
                case (OnnxFields.Node.Name, WireType.LengthDelimited): name = reader.ReadString(); break;
                case (OnnxFields.Node.OpType, WireType.LengthDelimited): opType = reader.ReadString(); break;
                case (OnnxFields.Node.Attribute, WireType.LengthDelimited): ReadAttribute(reader.ReadBytes(), attributes, intLists, tensors, subgraphReads); break;
                case (OnnxFields.Node.Domain, WireType.LengthDelimited): domain = reader.ReadString(); break;
                default: reader.Skip(); break;
            }
        }

        return new OnnxNodeProto(name, opType, domain, inputs, [.. outputs], attributes) { IntLists = intLists, Tensors = tensors };
    }

    // AttributeProto: name, f, i, ints, t, and g and graphs for subgraphs.
    private static void ReadAttribute(ReadOnlySpan<byte> bytes, Dictionary<string, double> attributes, Dictionary<string, long[]> intLists, Dictionary<string, byte[]> tensors, HashSet<string>? subgraphReads)
    {
        var reader = new ProtoReader(bytes);
        string name = string.Empty;
        double? value = null;
        List<long>? ints = null;
        byte[]? tensor = null;
        while (reader.Next())
        {
            switch (reader.Field, reader.WireType)
            {
                case (OnnxFields.Attribute.Name, WireType.LengthDelimited): name = reader.ReadString(); break;
                case (OnnxFields.Attribute.F, WireType.Fixed32): value = BitConverter.Int32BitsToSingle(reader.ReadFixed32()); break;
                case (OnnxFields.Attribute.I, WireType.Varint): value = (long)reader.ReadVarint(); break;
                case (OnnxFields.Attribute.Ints, WireType.Varint): (ints ??= []).Add((long)reader.ReadVarint()); break;
                case (OnnxFields.Attribute.Ints, WireType.LengthDelimited):
                    var packed = new ProtoReader(reader.ReadBytes());
                    ints ??= [];
                    while (!packed.AtEnd)
                    {
                        ints.Add((long)packed.ReadVarint());
                    }

                    break;
                case (OnnxFields.Attribute.T, WireType.LengthDelimited): tensor = reader.ReadBytes().ToArray(); break;
                case (OnnxFields.Attribute.G or OnnxFields.Attribute.Graphs, WireType.LengthDelimited) when subgraphReads is not null: SubgraphReads(reader.ReadBytes(), subgraphReads); break;
                default: reader.Skip(); break;
            }
        }

        if (value is { } v)
        {
            attributes[name] = v;
        }

        if (ints is not null)
        {
            intLists[name] = [.. ints];
        }

        if (tensor is not null)
        {
            tensors[name] = tensor;
        }
    }

    // GraphProto: the inputs of its nodes, and of their subgraphs in turn.
    private static void SubgraphReads(ReadOnlySpan<byte> graph, HashSet<string> reads)
    {
        var reader = new ProtoReader(graph);
        while (reader.Next())
        {
            if (reader.Is(OnnxFields.Graph.Node, WireType.LengthDelimited))
            {
                reads.UnionWith(Read(reader.ReadBytes(), reads).Inputs);
            }
            else
            {
                reader.Skip();
            }
        }
    }
}
