using EdgeRuntime.Conversion.Weights;
using EdgeRuntime.Onnx;

namespace EdgeRuntime.Conversion.Qdq;

/// <summary>A node of an <see cref="EditableGraph"/>: what it says, and its NodeProto bytes, re-written only when edited.</summary>
internal sealed class GraphNode(OnnxNodeProto proto, byte[] bytes)
{
    public OnnxNodeProto Proto { get; private set; } = proto;

    public byte[] Bytes { get; private set; } = bytes;

    /// <summary>The node reading <paramref name="inputs"/> and writing <paramref name="outputs"/> instead; every other field unchanged.</summary>
    public void Rewire(IReadOnlyList<string> inputs, IReadOnlyList<string> outputs)
    {
        var writer = new ProtoWriter();
        var reader = new ProtoReader(Bytes);
        int start = 0;
        while (reader.Next())
        {
            reader.Skip();
            if (reader.Field is not (OnnxFields.Node.Input or OnnxFields.Node.Output))
            {
                writer.Raw(Bytes.AsSpan(start, reader.Position - start));
            }

            start = reader.Position;
        }

        var rewired = new ProtoWriter();
        foreach (string input in inputs)
        {
            rewired.String(OnnxFields.Node.Input, input);
        }

        foreach (string output in outputs)
        {
            rewired.String(OnnxFields.Node.Output, output);
        }

        Bytes = [.. rewired.ToArray(), .. writer.ToArray()];
        Proto = OnnxNodeProto.Read(Bytes);
    }

    /// <summary>The node without the named attributes (an attribute an op's newer version takes as an input instead).</summary>
    public void RemoveAttributes(params string[] names)
    {
        var writer = new ProtoWriter();
        var reader = new ProtoReader(Bytes);
        int start = 0;
        while (reader.Next())
        {
            bool drop = false;
            if (reader.Is(OnnxFields.Node.Attribute, WireType.LengthDelimited))
            {
                drop = names.Contains(ProtoReader.FirstString(reader.ReadBytes(), OnnxFields.Attribute.Name));
            }
            else
            {
                reader.Skip();
            }

            if (!drop)
            {
                writer.Raw(Bytes.AsSpan(start, reader.Position - start));
            }

            start = reader.Position;
        }

        Bytes = writer.ToArray();
        Proto = OnnxNodeProto.Read(Bytes);
    }

    public static GraphNode From(ProtoWriter node)
    {
        byte[] bytes = node.ToArray();
        return new GraphNode(OnnxNodeProto.Read(bytes), bytes);
    }
}

/// <summary>
/// A graph held as its parts so a pass can edit nodes and initializers: nodes in order (untouched ones written back byte
/// for byte), initializers by name, and every other field kept as it was. Passes add nodes and initializers, rewire
/// nodes and drop what nothing reads any more.
/// </summary>
internal sealed class EditableGraph
{
    private readonly List<(int Field, byte[] Bytes)> _other = [];
    private readonly List<(string Name, byte[] Bytes)> _inputs = [];
    private readonly List<(string Name, byte[] Bytes)> _valueInfos = [];
    private readonly Dictionary<string, byte[]> _initializerBytes = new(StringComparer.Ordinal);
    private readonly List<string> _initializerOrder = [];
    private readonly List<ProtoWriter> _addedInitializers = [];

    public List<GraphNode> Nodes { get; } = [];

    public Dictionary<string, TensorValue> Initializers { get; } = new(StringComparer.Ordinal);

    public HashSet<string> Outputs { get; } = new(StringComparer.Ordinal);

    /// <summary>Graph inputs that are not initializers: what the caller feeds.</summary>
    public HashSet<string> FedInputs { get; } = new(StringComparer.Ordinal);

    /// <summary>Names read inside subgraphs (If/Loop/Scan bodies): they must keep existing.</summary>
    public HashSet<string> SubgraphReads { get; } = new(StringComparer.Ordinal);

    private HashSet<string>? _taken;

    /// <summary>The graph's parts; external initializers are read from <paramref name="modelDirectory"/> and held inline.</summary>
    public static EditableGraph Parse(ReadOnlySpan<byte> graph, string? modelDirectory)
    {
        var g = new EditableGraph();
        var reader = new ProtoReader(graph);
        int start = 0;
        while (reader.Next())
        {
            reader.Skip();
            byte[] field = graph[start..reader.Position].ToArray();
            var body = new ProtoReader(field);
            body.Next();
            switch (reader.Field, reader.WireType)
            {
                case (OnnxFields.Graph.Node, WireType.LengthDelimited):
                    byte[] node = body.ReadBytes().ToArray();
                    g.Nodes.Add(new GraphNode(OnnxNodeProto.Read(node, g.SubgraphReads), node));
                    break;
                case (OnnxFields.Graph.Initializer, WireType.LengthDelimited):
                    byte[] tensor = body.ReadBytes().ToArray();
                    var value = TensorValue.Read(tensor);
                    if (value.External is { } external)
                    {
                        tensor = TensorValue.Inline(tensor, external.Read(value.Name, modelDirectory, value.Count * TensorValue.ElementBytes(value.DataType))).ToArray();
                        value = TensorValue.Read(tensor);
                    }

                    g.Initializers[value.Name] = value;
                    g._initializerBytes[value.Name] = tensor;
                    g._initializerOrder.Add(value.Name);
                    break;
                case (OnnxFields.Graph.Input, WireType.LengthDelimited):
                    g._inputs.Add((ProtoReader.FirstString(body.ReadBytes(), OnnxFields.ValueInfo.Name), field));
                    break;
                case (OnnxFields.Graph.ValueInfo, WireType.LengthDelimited):
                    g._valueInfos.Add((ProtoReader.FirstString(body.ReadBytes(), OnnxFields.ValueInfo.Name), field));
                    break;
                case (OnnxFields.Graph.Output, WireType.LengthDelimited):
                    g.Outputs.Add(ProtoReader.FirstString(body.ReadBytes(), OnnxFields.ValueInfo.Name));
                    g._other.Add((reader.Field, field));
                    break;
                default:
                    g._other.Add((reader.Field, field));
                    break;
            }

            start = reader.Position;
        }

        g.FedInputs.UnionWith(g._inputs.Select(i => i.Name).Where(name => !g.Initializers.ContainsKey(name)));
        return g;
    }

    /// <summary>A name no tensor in the graph has yet, from <paramref name="stem"/>.</summary>
    public string FreshName(string stem)
    {
        _taken ??= new HashSet<string>(Nodes.SelectMany(n => n.Proto.Outputs.Concat(n.Proto.Inputs)).Concat(Initializers.Keys).Concat(_inputs.Select(i => i.Name)), StringComparer.Ordinal);
        string name = stem;
        for (int i = 1; _taken.Contains(name); i++)
        {
            name = $"{stem}_{i}";
        }

        _taken.Add(name);
        return name;
    }

    public void AddInitializer(string name, ProtoWriter tensor)
    {
        _addedInitializers.Add(tensor);
        Initializers[name] = TensorValue.Read(tensor.ToArray());
    }

    /// <summary>Which node writes each tensor.</summary>
    public Dictionary<string, GraphNode> Producers()
    {
        var producers = new Dictionary<string, GraphNode>(StringComparer.Ordinal);
        foreach (var node in Nodes)
        {
            foreach (string output in node.Proto.Outputs.Where(o => o.Length > 0))
            {
                producers.TryAdd(output, node);
            }
        }

        return producers;
    }

    /// <summary>The nodes reading each tensor.</summary>
    public Dictionary<string, List<GraphNode>> Consumers()
    {
        var consumers = new Dictionary<string, List<GraphNode>>(StringComparer.Ordinal);
        foreach (var node in Nodes)
        {
            foreach (string input in node.Proto.Inputs.Where(i => i.Length > 0).Distinct(StringComparer.Ordinal))
            {
                if (!consumers.TryGetValue(input, out var list))
                {
                    consumers[input] = list = [];
                }

                list.Add(node);
            }
        }

        return consumers;
    }

    /// <summary>
    /// Drops what nothing reads any more: Constant/Identity/Cast/Transpose nodes whose outputs are unread, then
    /// initializers no node, subgraph or graph output reads (with their graph-input entries), and value_info entries
    /// for tensors that no longer exist.
    /// </summary>
    public void DropUnread()
    {
        while (true)
        {
            var read = new HashSet<string>(Nodes.SelectMany(n => n.Proto.Inputs), StringComparer.Ordinal);
            int removed = Nodes.RemoveAll(n => n.Proto.OpType is "Constant" or "Identity" or "Cast" or "Transpose"
                && n.Proto.Domain is OnnxDomains.Default or OnnxDomains.AiOnnx
                && !n.Proto.Outputs.Any(o => read.Contains(o) || Outputs.Contains(o) || SubgraphReads.Contains(o)));
            if (removed == 0)
            {
                break;
            }
        }

        var stillRead = new HashSet<string>(Nodes.SelectMany(n => n.Proto.Inputs), StringComparer.Ordinal);
        stillRead.UnionWith(Outputs);
        stillRead.UnionWith(SubgraphReads);
        foreach (string name in Initializers.Keys.Where(name => !stillRead.Contains(name)).ToList())
        {
            Initializers.Remove(name);
        }

        var exists = new HashSet<string>(Nodes.SelectMany(n => n.Proto.Outputs).Concat(Initializers.Keys).Concat(FedInputs), StringComparer.Ordinal);
        _valueInfos.RemoveAll(v => !exists.Contains(v.Name));
    }

    /// <summary>The GraphProto: its other fields as they were, then the nodes, the kept initializers and the added ones.</summary>
    public byte[] Write()
    {
        var writer = new ProtoWriter();
        foreach (var (_, bytes) in _other)
        {
            writer.Raw(bytes);
        }

        foreach (var (name, bytes) in _inputs)
        {
            if (FedInputs.Contains(name) || Initializers.ContainsKey(name))
            {
                writer.Raw(bytes);
            }
        }

        foreach (var (_, bytes) in _valueInfos)
        {
            writer.Raw(bytes);
        }

        foreach (var node in Nodes)
        {
            writer.Bytes(OnnxFields.Graph.Node, node.Bytes);
        }

        foreach (string name in _initializerOrder.Where(Initializers.ContainsKey))
        {
            writer.Bytes(OnnxFields.Graph.Initializer, _initializerBytes[name]);
        }

        var addedNames = new HashSet<string>(StringComparer.Ordinal);
        foreach (var tensor in _addedInitializers)
        {
            string name = ProtoReader.FirstString(tensor.ToArray(), OnnxFields.Tensor.Name);
            if (Initializers.ContainsKey(name) && !_initializerBytes.ContainsKey(name) && addedNames.Add(name))
            {
                writer.Message(OnnxFields.Graph.Initializer, tensor);
            }
        }

        return writer.ToArray();
    }
}
