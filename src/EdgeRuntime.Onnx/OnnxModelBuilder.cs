using System.Runtime.InteropServices;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.ModelBuilder;

/// <summary>
/// Builds an ONNX ModelProto: inputs, outputs, initializers and nodes, written straight to protobuf bytes. Field
/// numbers follow onnx.proto (ModelProto, GraphProto, NodeProto, TensorProto, ValueInfoProto, AttributeProto).
/// </summary>
public sealed class OnnxModelBuilder(int opset = 17, string graphName = "graph")
{
    private readonly ProtoWriter _graph = new ProtoWriter().String(2, graphName);
    private readonly List<(string Domain, int Version)> _extraOpsets = [];
    private int _nodes;

    public OnnxModelBuilder Input(string name, TensorDType dtype, params Dim[] shape)
    {
        _graph.Message(11, ValueInfo(name, dtype, shape));
        return this;
    }

    public OnnxModelBuilder Output(string name, TensorDType dtype, params Dim[] shape)
    {
        _graph.Message(12, ValueInfo(name, dtype, shape));
        return this;
    }

    /// <summary>A constant tensor (weights), stored as raw little-endian bytes.</summary>
    public OnnxModelBuilder Initializer<T>(string name, TensorDType dtype, long[] shape, ReadOnlySpan<T> values)
        where T : unmanaged
    {
        _graph.Message(5, TensorProto(name, dtype, shape, values));
        return this;
    }

    public OnnxModelBuilder Node(string opType, string[] inputs, string[] outputs, string domain = "", params NodeAttribute[] attributes)
    {
        _graph.Message(1, NodeProto(opType, $"{opType}_{_nodes++}", inputs, outputs, domain, attributes));
        return this;
    }

    /// <summary>A TensorProto with raw little-endian data.</summary>
    internal static ProtoWriter TensorProto<T>(string name, TensorDType dtype, long[] shape, ReadOnlySpan<T> values)
        where T : unmanaged
    {
        var tensor = new ProtoWriter();
        foreach (long dim in shape)
        {
            tensor.Varint(1, dim);
        }

        return tensor.Varint(2, OnnxType(dtype)).String(8, name).Bytes(9, MemoryMarshal.AsBytes(values));
    }

    internal static ProtoWriter NodeProto(string opType, string name, string[] inputs, string[] outputs, string domain = "", params NodeAttribute[] attributes)
    {
        var node = new ProtoWriter();
        foreach (string input in inputs)
        {
            node.String(1, input);
        }

        foreach (string output in outputs)
        {
            node.String(2, output);
        }

        node.String(3, name).String(4, opType);
        foreach (var attribute in attributes)
        {
            node.Message(5, attribute.ToProto());
        }

        if (domain.Length > 0)
        {
            node.String(7, domain);
        }

        return node;
    }

    public OnnxModelBuilder Opset(string domain, int version)
    {
        _extraOpsets.Add((domain, version));
        return this;
    }

    public byte[] Build()
    {
        var model = new ProtoWriter()
            .Varint(1, 8) // IR version 8: understood by ONNX Runtime 1.14 and later
            .String(2, "EdgeRuntime.ModelBuilder")
            .Message(7, _graph)
            .Message(8, new ProtoWriter().String(1, string.Empty).Varint(2, opset));
        foreach (var (domain, version) in _extraOpsets)
        {
            model.Message(8, new ProtoWriter().String(1, domain).Varint(2, version));
        }

        return model.ToArray();
    }

    public void Save(string path) => File.WriteAllBytes(path, Build());

    /// <summary>The TensorProto.DataType number of a dtype.</summary>
    public static int OnnxType(TensorDType dtype) => dtype switch
    {
        TensorDType.Float32 => 1,
        TensorDType.UInt8 => 2,
        TensorDType.Int8 => 3,
        TensorDType.UInt16 => 4,
        TensorDType.Int16 => 5,
        TensorDType.Int32 => 6,
        TensorDType.Int64 => 7,
        TensorDType.Bool => 9,
        TensorDType.Float16 => 10,
        TensorDType.Float64 => 11,
        TensorDType.UInt32 => 12,
        TensorDType.UInt64 => 13,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };

    private static ProtoWriter ValueInfo(string name, TensorDType dtype, Dim[] shape)
    {
        var dims = new ProtoWriter();
        foreach (var dim in shape)
        {
            dims.Message(1, dim.Symbol is { } symbol ? new ProtoWriter().String(2, symbol) : new ProtoWriter().Varint(1, dim.Value));
        }

        var tensorType = new ProtoWriter().Varint(1, OnnxType(dtype)).Message(2, dims);
        return new ProtoWriter().String(1, name).Message(2, new ProtoWriter().Message(1, tensorType));
    }
}

/// <summary>A node attribute: an int, a float, or a list of ints.</summary>
public sealed record NodeAttribute(string Name, long? Int = null, float? Float = null, long[]? Ints = null)
{
    internal ProtoWriter ToProto()
    {
        var proto = new ProtoWriter().String(1, Name);
        if (Int is { } i)
        {
            proto.Varint(3, i).Varint(20, 2);
        }
        else if (Float is { } f)
        {
            proto.Fixed32(2, f).Varint(20, 1);
        }
        else if (Ints is { } ints)
        {
            foreach (long value in ints)
            {
                proto.Varint(8, value);
            }

            proto.Varint(20, 7);
        }

        return proto;
    }
}
