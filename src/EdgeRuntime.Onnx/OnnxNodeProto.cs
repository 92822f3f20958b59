namespace EdgeRuntime.Inference.Onnx;

/// <summary>
/// The parts of an ONNX NodeProto the load-time rewrite and the model converter decide by: name, op type, domain,
/// inputs, outputs and the int and float attributes (AttributeProto i and f).
/// </summary>
internal sealed record OnnxNodeProto(string Name, string OpType, string Domain, List<string> Inputs, string[] Outputs, Dictionary<string, double> Attributes)
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
                case (1, 2): inputs.Add(reader.ReadString()); break;
                case (2, 2): outputs.Add(reader.ReadString()); break;
                case (3, 2): name = reader.ReadString(); break;
                case (4, 2): opType = reader.ReadString(); break;
                case (5, 2): ReadAttribute(reader.ReadBytes(), attributes, subgraphReads); break;
                case (7, 2): domain = reader.ReadString(); break;
                default: reader.Skip(); break;
            }
        }

        return new OnnxNodeProto(name, opType, domain, inputs, [.. outputs], attributes);
    }

    /// <summary>The first string in field <paramref name="field"/> of a message (a name or a domain), or "".</summary>
    public static string FirstString(ReadOnlySpan<byte> message, int field)
    {
        var reader = new ProtoReader(message);
        while (reader.Next())
        {
            if (reader.Field == field && reader.WireType == 2)
            {
                return reader.ReadString();
            }

            reader.Skip();
        }

        return string.Empty;
    }

    // AttributeProto: name (1), f (2, fixed32), i (3, varint), g (6) and graphs (11) for subgraphs.
    private static void ReadAttribute(ReadOnlySpan<byte> bytes, Dictionary<string, double> attributes, HashSet<string>? subgraphReads)
    {
        var reader = new ProtoReader(bytes);
        string name = string.Empty;
        double? value = null;
        while (reader.Next())
        {
            switch (reader.Field, reader.WireType)
            {
                case (1, 2): name = reader.ReadString(); break;
                case (2, 5): value = BitConverter.Int32BitsToSingle(reader.ReadFixed32()); break;
                case (3, 0): value = (long)reader.ReadVarint(); break;
                case (6 or 11, 2) when subgraphReads is not null: SubgraphReads(reader.ReadBytes(), subgraphReads); break;
                default: reader.Skip(); break;
            }
        }

        if (value is { } v)
        {
            attributes[name] = v;
        }
    }

    // GraphProto: the inputs of its nodes (field 1), and of their subgraphs in turn.
    private static void SubgraphReads(ReadOnlySpan<byte> graph, HashSet<string> reads)
    {
        var reader = new ProtoReader(graph);
        while (reader.Next())
        {
            if (reader.Field == 1 && reader.WireType == 2)
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
