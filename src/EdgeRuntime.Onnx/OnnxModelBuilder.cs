using System.Runtime.InteropServices;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Onnx;

/// <summary>
/// Builds an ONNX ModelProto: inputs, outputs, initializers and nodes, written straight to protobuf bytes. Field
/// numbers follow onnx.proto (ModelProto, GraphProto, NodeProto, TensorProto, ValueInfoProto, AttributeProto).
/// </summary>
public sealed class OnnxModelBuilder(int opset = 17, string graphName = "graph")
{
    private readonly List<(string Domain, int Version)> _extraOpsets = [];
    private ProtoWriter _graph = new ProtoWriter().String(OnnxFields.Graph.Name, graphName);
    private int _nodes;

    /// <summary>
    /// A second builder holding everything declared so far. Graphs that differ only in what is declared after the fork
    /// (a static-shape model's prefill and decode graphs: the same nodes and weights, inputs of other sizes) are
    /// built once and forked.
    /// </summary>
    public OnnxModelBuilder Fork()
    {
        var copy = new OnnxModelBuilder(opset, graphName) { _graph = new ProtoWriter().Raw(_graph.ToArray()), _nodes = _nodes };
        copy._extraOpsets.AddRange(_extraOpsets);
        return copy;
    }

    public OnnxModelBuilder Input(string name, TensorDType dtype, params Dim[] shape)
    {
        _graph.Message(OnnxFields.Graph.Input, ValueInfo(name, dtype, shape));
        return this;
    }

    public OnnxModelBuilder Output(string name, TensorDType dtype, params Dim[] shape)
    {
        _graph.Message(OnnxFields.Graph.Output, ValueInfo(name, dtype, shape));
        return this;
    }

    /// <summary>A constant tensor (weights), stored as raw little-endian bytes.</summary>
    public OnnxModelBuilder Initializer<T>(string name, TensorDType dtype, long[] shape, ReadOnlySpan<T> values)
        where T : unmanaged
    {
        _graph.Message(OnnxFields.Graph.Initializer, TensorProto(name, dtype, shape, values));
        return this;
    }

    /// <summary>A TensorProto written by hand: types the wire protocol has no name for (bfloat16), or values in typed fields.</summary>
    public OnnxModelBuilder Initializer(ProtoWriter tensor)
    {
        _graph.Message(OnnxFields.Graph.Initializer, tensor);
        return this;
    }

    /// <summary>
    /// A constant tensor whose bytes live in another file (ONNX external data): <paramref name="location"/> relative to
    /// the model file, at <paramref name="offset"/>, <paramref name="length"/> bytes. The graph stays small and the
    /// weights can be memory-mapped rather than parsed out of protobuf.
    /// </summary>
    public OnnxModelBuilder ExternalInitializer(string name, TensorDType dtype, long[] shape, string location, long offset, long length) =>
        ExternalInitializer(name, OnnxType(dtype), shape, location, offset, length);

    /// <summary>As above with the TensorProto data type by number, for types the wire protocol has no name for (int4).</summary>
    public OnnxModelBuilder ExternalInitializer(string name, int onnxDataType, long[] shape, string location, long offset, long length)
    {
        var tensor = new ProtoWriter();
        foreach (long dim in shape)
        {
            tensor.Varint(OnnxFields.Tensor.Dims, dim);
        }

        tensor.Varint(OnnxFields.Tensor.DataType, onnxDataType).String(OnnxFields.Tensor.Name, name);
        tensor.Message(OnnxFields.Tensor.ExternalData, Entry("location", location));
        tensor.Message(OnnxFields.Tensor.ExternalData, Entry("offset", offset.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        tensor.Message(OnnxFields.Tensor.ExternalData, Entry("length", length.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        tensor.Varint(OnnxFields.Tensor.DataLocation, OnnxFields.DataLocationValue.External);
        _graph.Message(OnnxFields.Graph.Initializer, tensor);
        return this;

        static ProtoWriter Entry(string key, string value) => new ProtoWriter().String(OnnxFields.StringStringEntry.Key, key).String(OnnxFields.StringStringEntry.Value, value);
    }

    public OnnxModelBuilder Node(string opType, string[] inputs, string[] outputs, string domain = "", params NodeAttribute[] attributes)
    {
        _graph.Message(OnnxFields.Graph.Node, NodeProto(opType, $"{opType}_{_nodes++}", inputs, outputs, domain, attributes));
        return this;
    }

    /// <summary>A TensorProto with raw little-endian data.</summary>
    public static ProtoWriter TensorProto<T>(string name, TensorDType dtype, long[] shape, ReadOnlySpan<T> values)
        where T : unmanaged
    {
        var tensor = new ProtoWriter();
        foreach (long dim in shape)
        {
            tensor.Varint(OnnxFields.Tensor.Dims, dim);
        }

        return tensor.Varint(OnnxFields.Tensor.DataType, OnnxType(dtype)).String(OnnxFields.Tensor.Name, name).Bytes(OnnxFields.Tensor.RawData, MemoryMarshal.AsBytes(values));
    }

    public static ProtoWriter NodeProto(string opType, string name, string[] inputs, string[] outputs, string domain = "", params NodeAttribute[] attributes)
    {
        var node = new ProtoWriter();
        foreach (string input in inputs)
        {
            node.String(OnnxFields.Node.Input, input);
        }

        foreach (string output in outputs)
        {
            node.String(OnnxFields.Node.Output, output);
        }

        node.String(OnnxFields.Node.Name, name).String(OnnxFields.Node.OpType, opType);
        foreach (var attribute in attributes)
        {
            node.Message(OnnxFields.Node.Attribute, attribute.ToProto());
        }

        if (domain.Length > 0)
        {
            node.String(OnnxFields.Node.Domain, domain);
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
            // IR version 8 is understood by ONNX Runtime 1.14 and later; opset 21 (int4 tensors, blocked DequantizeLinear) needs 10.
            .Varint(OnnxFields.Model.IrVersion, opset >= 21 ? 10 : 8)
            .String(OnnxFields.Model.ProducerName, "EdgeRuntime.Onnx")
            .Message(OnnxFields.Model.Graph, _graph)
            .Message(OnnxFields.Model.OpsetImport, new ProtoWriter().String(OnnxFields.OperatorSetId.Domain, OnnxDomains.Default).Varint(OnnxFields.OperatorSetId.Version, opset));
        foreach (var (domain, version) in _extraOpsets)
        {
            model.Message(OnnxFields.Model.OpsetImport, new ProtoWriter().String(OnnxFields.OperatorSetId.Domain, domain).Varint(OnnxFields.OperatorSetId.Version, version));
        }

        return model.ToArray();
    }

    public void Save(string path) => File.WriteAllBytes(path, Build());

    /// <summary>The TensorProto.DataType number of a dtype.</summary>
    public static int OnnxType(TensorDType dtype) => dtype switch
    {
        TensorDType.Float32 => OnnxDataType.Float,
        TensorDType.UInt8 => OnnxDataType.UInt8,
        TensorDType.Int8 => OnnxDataType.Int8,
        TensorDType.UInt16 => OnnxDataType.UInt16,
        TensorDType.Int16 => OnnxDataType.Int16,
        TensorDType.Int32 => OnnxDataType.Int32,
        TensorDType.Int64 => OnnxDataType.Int64,
        TensorDType.Bool => OnnxDataType.Bool,
        TensorDType.Float16 => OnnxDataType.Float16,
        TensorDType.Float64 => OnnxDataType.Double,
        TensorDType.UInt32 => OnnxDataType.UInt32,
        TensorDType.UInt64 => OnnxDataType.UInt64,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };

    private static ProtoWriter ValueInfo(string name, TensorDType dtype, Dim[] shape)
    {
        var dims = new ProtoWriter();
        foreach (var dim in shape)
        {
            dims.Message(OnnxFields.Shape.Dim, dim.Symbol is { } symbol ? new ProtoWriter().String(OnnxFields.Dimension.DimParam, symbol) : new ProtoWriter().Varint(OnnxFields.Dimension.DimValue, dim.Value));
        }

        var tensorType = new ProtoWriter().Varint(OnnxFields.TensorType.ElemType, OnnxType(dtype)).Message(OnnxFields.TensorType.Shape, dims);
        return new ProtoWriter().String(OnnxFields.ValueInfo.Name, name).Message(OnnxFields.ValueInfo.Type, new ProtoWriter().Message(OnnxFields.TypeProto.TensorType, tensorType));
    }
}

/// <summary>A node attribute: an int, a float, a list of ints or a tensor (a TensorProto, as a Constant's value).</summary>
public sealed record NodeAttribute(string Name, long? Int = null, float? Float = null, long[]? Ints = null, ProtoWriter? Tensor = null)
{
    public ProtoWriter ToProto()
    {
        var proto = new ProtoWriter().String(OnnxFields.Attribute.Name, Name);
        if (Int is { } i)
        {
            proto.Varint(OnnxFields.Attribute.I, i).Varint(OnnxFields.Attribute.Type, OnnxAttributeType.Int);
        }
        else if (Float is { } f)
        {
            proto.Fixed32(OnnxFields.Attribute.F, f).Varint(OnnxFields.Attribute.Type, OnnxAttributeType.Float);
        }
        else if (Ints is { } ints)
        {
            foreach (long value in ints)
            {
                proto.Varint(OnnxFields.Attribute.Ints, value);
            }

            proto.Varint(OnnxFields.Attribute.Type, OnnxAttributeType.Ints);
        }
        else if (Tensor is { } tensor)
        {
            proto.Message(OnnxFields.Attribute.T, tensor).Varint(OnnxFields.Attribute.Type, OnnxAttributeType.Tensor);
        }

        return proto;
    }
}
