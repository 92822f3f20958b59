using Microsoft.ML.OnnxRuntime;

namespace EdgeRuntime.Kernels.Tests;

/// <summary>A serialized onnx.TensorProto as the test data stores it (dims, data type, raw_data or int32_data).</summary>
internal sealed record TensorFile(long[] Dims, int DataType, byte[] Raw)
{
    public static TensorFile Read(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        var dims = new List<long>();
        int type = 0;
        byte[] raw = [];
        var int32s = new List<int>();
        int position = 0;
        while (position < bytes.Length)
        {
            ulong tag = Varint(bytes, ref position);
            int field = (int)(tag >> 3), wire = (int)(tag & 7);
            if (wire == 0)
            {
                ulong value = Varint(bytes, ref position);
                if (field == 1)
                {
                    dims.Add((long)value);
                }
                else if (field == 2)
                {
                    type = (int)value;
                }
                else if (field == 5)
                {
                    int32s.Add((int)value);
                }

                continue;
            }

            Assert.Equal(2, wire);
            int length = (int)Varint(bytes, ref position);
            var payload = bytes.AsSpan(position, length);
            position += length;
            if (field == 9)
            {
                raw = payload.ToArray();
            }
            else if (field is 1 or 5)
            {
                int inner = 0;
                byte[] packed = payload.ToArray();
                while (inner < packed.Length)
                {
                    ulong value = Varint(packed, ref inner);
                    if (field == 1)
                    {
                        dims.Add((long)value);
                    }
                    else
                    {
                        int32s.Add((int)value);
                    }
                }
            }
        }

        if (raw.Length == 0 && int32s.Count > 0)
        {
            // int32_data carries 8-bit types one value per int32, and int32 itself.
            raw = type == 6 ? [.. int32s.SelectMany(BitConverter.GetBytes)] : [.. int32s.Select(v => (byte)v)];
        }

        return new TensorFile([.. dims], type, raw);
    }

    public OrtValue ToOrtValue() => DataType switch
    {
        1 => OrtValue.CreateTensorValueFromMemory(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(Raw).ToArray(), Dims),
        2 => OrtValue.CreateTensorValueFromMemory(Raw, Dims),
        3 => OrtValue.CreateTensorValueFromMemory(Raw.Select(b => (sbyte)b).ToArray(), Dims),
        6 => OrtValue.CreateTensorValueFromMemory(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, int>(Raw).ToArray(), Dims),
        _ => throw new NotSupportedException($"test tensor type {DataType}"),
    };

    private static ulong Varint(byte[] bytes, ref int position)
    {
        ulong value = 0;
        for (int shift = 0; ; shift += 7)
        {
            byte b = bytes[position++];
            value |= (ulong)(b & 0x7f) << shift;
            if ((b & 0x80) == 0)
            {
                return value;
            }
        }
    }
}
