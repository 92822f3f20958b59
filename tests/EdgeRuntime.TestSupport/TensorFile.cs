using EdgeRuntime.Onnx;

namespace EdgeRuntime.TestSupport;

/// <summary>A serialized onnx.TensorProto as ONNX's conformance data stores it (dims, data type, raw_data or int32_data).</summary>
public sealed record TensorFile(long[] Dims, int DataType, byte[] Raw)
{
    public static TensorFile Read(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        var dims = new List<long>();
        int type = OnnxDataType.Undefined;
        byte[] raw = [];
        var int32s = new List<int>();
        var reader = new ProtoReader(bytes);
        while (reader.Next())
        {
            switch (reader.Field, reader.WireType)
            {
                case (OnnxFields.Tensor.Dims, WireType.Varint): dims.Add((long)reader.ReadVarint()); break;
                case (OnnxFields.Tensor.Dims, WireType.LengthDelimited): ReadPacked(reader.ReadBytes(), v => dims.Add((long)v)); break;
                case (OnnxFields.Tensor.DataType, WireType.Varint): type = (int)reader.ReadVarint(); break;
                case (OnnxFields.Tensor.Int32Data, WireType.Varint): int32s.Add((int)reader.ReadVarint()); break;
                case (OnnxFields.Tensor.Int32Data, WireType.LengthDelimited): ReadPacked(reader.ReadBytes(), v => int32s.Add((int)v)); break;
                case (OnnxFields.Tensor.RawData, WireType.LengthDelimited): raw = reader.ReadBytes().ToArray(); break;
                default: reader.Skip(); break;
            }
        }

        if (raw.Length == 0 && int32s.Count > 0)
        {
            // int32_data carries 8-bit types one value per int32, and int32 itself.
            raw = type == OnnxDataType.Int32 ? [.. int32s.SelectMany(BitConverter.GetBytes)] : [.. int32s.Select(v => (byte)v)];
        }

        return new TensorFile([.. dims], type, raw);
    }

    private static void ReadPacked(ReadOnlySpan<byte> packed, Action<ulong> add)
    {
        var reader = new ProtoReader(packed);
        while (!reader.AtEnd)
        {
            add(reader.ReadVarint());
        }
    }
}
