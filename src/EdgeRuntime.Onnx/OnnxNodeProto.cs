namespace EdgeRuntime.Onnx;

/// <summary>
/// The parts of an ONNX NodeProto the load-time rewrite and the model converter decide by: name, op type, domain,
/// inputs, outputs and the int and float attributes (AttributeProto i and f).
/// </summary>
public sealed record OnnxNodeProto(string Name, string OpType, string Domain, List<string> Inputs, string[] Outputs, Dictionary<string, double> Attributes)
{
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
        while (reader.Next())
        {
            switch (reader.Field, reader.WireType)
            {
                case (OnnxFields.Node.Input, WireType.LengthDelimited): inputs.Add(reader.ReadString()); break;
                case (OnnxFields.Node.Output, WireType.LengthDelimited): outputs.Add(reader.ReadString()); break;
                case (OnnxFields.Node.Name, WireType.LengthDelimited): name = reader.ReadString(); break;
                case (OnnxFields.Node.OpType, WireType.LengthDelimited): opType = reader.ReadString(); break;
                case (OnnxFields.Node.Attribute, WireType.LengthDelimited): ReadAttribute(reader.ReadBytes(), attributes, subgraphReads); break;
                case (OnnxFields.Node.Domain, WireType.LengthDelimited): domain = reader.ReadString(); break;
                default: reader.Skip(); break;
            }
        }

        return new OnnxNodeProto(name, opType, domain, inputs, [.. outputs], attributes);
    }

    // AttributeProto: name, f, i, and g and graphs for subgraphs.
    private static void ReadAttribute(ReadOnlySpan<byte> bytes, Dictionary<string, double> attributes, HashSet<string>? subgraphReads)
    {
        var reader = new ProtoReader(bytes);
        string name = string.Empty;
        double? value = null;
        while (reader.Next())
        {
            switch (reader.Field, reader.WireType)
            {
                case (OnnxFields.Attribute.Name, WireType.LengthDelimited): name = reader.ReadString(); break;
                case (OnnxFields.Attribute.F, WireType.Fixed32): value = BitConverter.Int32BitsToSingle(reader.ReadFixed32()); break;
                case (OnnxFields.Attribute.I, WireType.Varint): value = (long)reader.ReadVarint(); break;
                case (OnnxFields.Attribute.G or OnnxFields.Attribute.Graphs, WireType.LengthDelimited) when subgraphReads is not null: SubgraphReads(reader.ReadBytes(), subgraphReads); break;
                default: reader.Skip(); break;
            }
        }

        if (value is { } v)
        {
            attributes[name] = v;
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
