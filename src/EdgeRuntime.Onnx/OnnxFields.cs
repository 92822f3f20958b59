namespace EdgeRuntime.Onnx;

/// <summary>Protobuf wire types, as the tag's low three bits carry them.</summary>
public static class WireType
{
    public const int Varint = 0;
    public const int Fixed64 = 1;
    public const int LengthDelimited = 2;
    public const int Fixed32 = 5;
}

/// <summary>
/// Field numbers of the ONNX messages we read and write, named as onnx.proto names them, so code reads
/// <c>reader.Is(OnnxFields.Node.Domain, WireType.LengthDelimited)</c> instead of a bare 7.
/// </summary>
public static class OnnxFields
{
    /// <summary>ModelProto.</summary>
    public static class Model
    {
        public const int IrVersion = 1;
        public const int ProducerName = 2;
        public const int Graph = 7;
        public const int OpsetImport = 8;
    }

    /// <summary>OperatorSetIdProto.</summary>
    public static class OperatorSetId
    {
        public const int Domain = 1;
        public const int Version = 2;
    }

    /// <summary>GraphProto.</summary>
    public static class Graph
    {
        public const int Node = 1;
        public const int Name = 2;
        public const int Initializer = 5;
        public const int Input = 11;
        public const int Output = 12;
        public const int ValueInfo = 13;
    }

    /// <summary>NodeProto.</summary>
    public static class Node
    {
        public const int Input = 1;
        public const int Output = 2;
        public const int Name = 3;
        public const int OpType = 4;
        public const int Attribute = 5;
        public const int Domain = 7;
    }

    /// <summary>AttributeProto.</summary>
    public static class Attribute
    {
        public const int Name = 1;
        public const int F = 2;
        public const int I = 3;
        public const int S = 4;
        public const int T = 5;
        public const int G = 6;
        public const int Floats = 7;
        public const int Ints = 8;
        public const int Graphs = 11;
        public const int Type = 20;
    }

    /// <summary>TensorProto.</summary>
    public static class Tensor
    {
        public const int Dims = 1;
        public const int DataType = 2;
        public const int FloatData = 4;
        public const int Int32Data = 5;
        public const int Int64Data = 7;
        public const int DoubleData = 10;
        public const int Name = 8;
        public const int RawData = 9;
        public const int ExternalData = 13;
        public const int DataLocation = 14;
    }

    /// <summary>StringStringEntryProto (TensorProto.external_data entries: location, offset, length).</summary>
    public static class StringStringEntry
    {
        public const int Key = 1;
        public const int Value = 2;
    }

    /// <summary>TensorProto.DataLocation values.</summary>
    public static class DataLocationValue
    {
        public const int Default = 0;
        public const int External = 1;
    }

    /// <summary>ValueInfoProto.</summary>
    public static class ValueInfo
    {
        public const int Name = 1;
        public const int Type = 2;
    }

    /// <summary>TypeProto (only its tensor_type arm).</summary>
    public static class TypeProto
    {
        public const int TensorType = 1;
    }

    /// <summary>TypeProto.Tensor.</summary>
    public static class TensorType
    {
        public const int ElemType = 1;
        public const int Shape = 2;
    }

    /// <summary>TensorShapeProto.</summary>
    public static class Shape
    {
        public const int Dim = 1;
    }

    /// <summary>TensorShapeProto.Dimension.</summary>
    public static class Dimension
    {
        public const int DimValue = 1;
        public const int DimParam = 2;
    }
}

/// <summary>TensorProto.DataType values (the element types ONNX tensors carry).</summary>
public static class OnnxDataType
{
    public const int Undefined = 0;
    public const int Float = 1;
    public const int UInt8 = 2;
    public const int Int8 = 3;
    public const int UInt16 = 4;
    public const int Int16 = 5;
    public const int Int32 = 6;
    public const int Int64 = 7;
    public const int String = 8;
    public const int Bool = 9;
    public const int Float16 = 10;
    public const int Double = 11;
    public const int UInt32 = 12;
    public const int UInt64 = 13;
    public const int BFloat16 = 16;

    /// <summary>Unsigned 4-bit integers, two to a byte, the first in the low nibble (ONNX IR 10, opset 21).</summary>
    public const int UInt4 = 21;

    /// <summary>Signed 4-bit integers, packed as <see cref="UInt4"/>.</summary>
    public const int Int4 = 22;
}

/// <summary>AttributeProto.AttributeType values.</summary>
public static class OnnxAttributeType
{
    public const int Float = 1;
    public const int Int = 2;
    public const int String = 3;
    public const int Tensor = 4;
    public const int Graph = 5;
    public const int Floats = 6;
    public const int Ints = 7;
}
