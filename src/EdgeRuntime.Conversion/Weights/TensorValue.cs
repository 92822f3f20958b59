using System.Globalization;
using System.Runtime.InteropServices;
using EdgeRuntime.Onnx;

namespace EdgeRuntime.Conversion.Weights;

/// <summary>
/// A TensorProto as the converter reads it: name, shape, element type and where its values are. Exporters store
/// values in raw_data, in the typed fields (float_data; int32_data holding float16/bfloat16 bit patterns; double_data)
/// or in an external data file beside the model; <see cref="Floats"/> reads any of them as float.
/// </summary>
internal sealed record TensorValue(string Name, long[] Dims, int DataType)
{
    private byte[]? _raw;
    private float[]? _floatData;
    private int[]? _int32Data;
    private double[]? _doubleData;

    /// <summary>The external data entry (file relative to the model, offset, length) when the values live in a file.</summary>
    public ExternalLocation? External { get; private init; }

    public long Count => Dims.Aggregate(1L, (p, d) => p * d);

    public bool IsFloatingPoint => DataType is OnnxDataType.Float or OnnxDataType.Float16 or OnnxDataType.BFloat16 or OnnxDataType.Double;

    /// <summary>The values as float, from wherever the proto keeps them; external files are read from <paramref name="directory"/>.</summary>
    public float[] Floats(string? directory)
    {
        if (!IsFloatingPoint)
        {
            throw new InvalidDataException($"'{Name}' has ONNX data type {DataType}, not a floating-point type.");
        }

        long count = Count;
        if (count > Array.MaxLength)
        {
            throw new InvalidDataException($"'{Name}' has {count} values, more than one array holds.");
        }

        byte[]? raw = RawBytes(directory);
        float[] values = raw is not null ? FromRaw(raw) : FromTypedFields();
        return values.LongLength == count
            ? values
            : throw new InvalidDataException($"'{Name}' holds {values.LongLength} values; its shape [{string.Join(", ", Dims)}] needs {count}.");
    }

    private float[] FromRaw(byte[] raw) => DataType switch
    {
        OnnxDataType.Float => MemoryMarshal.Cast<byte, float>(raw).ToArray(),
        OnnxDataType.Double => [.. MemoryMarshal.Cast<byte, double>(raw).ToArray().Select(v => (float)v)],
        OnnxDataType.Float16 => [.. MemoryMarshal.Cast<byte, Half>(raw).ToArray().Select(v => (float)v)],
        _ => [.. MemoryMarshal.Cast<byte, ushort>(raw).ToArray().Select(BFloat16ToFloat)],
    };

    private float[] FromTypedFields() => DataType switch
    {
        OnnxDataType.Float => _floatData ?? [],
        OnnxDataType.Double => [.. (_doubleData ?? []).Select(v => (float)v)],
        // float16 and bfloat16 values sit in int32_data, one 16-bit pattern in the low bits of each.
        OnnxDataType.Float16 => [.. (_int32Data ?? []).Select(v => (float)BitConverter.UInt16BitsToHalf((ushort)v))],
        _ => [.. (_int32Data ?? []).Select(v => BFloat16ToFloat((ushort)v))],
    };

    /// <summary>bfloat16 is the top half of a float's bits.</summary>
    public static float BFloat16ToFloat(ushort bits) => BitConverter.Int32BitsToSingle(bits << 16);

    /// <summary>A float rounded to bfloat16 (round to nearest, ties to even), as a float.</summary>
    public static float RoundToBFloat16(float value)
    {
        if (float.IsNaN(value))
        {
            return value;
        }

        uint bits = BitConverter.SingleToUInt32Bits(value);
        bits += 0x7FFF + ((bits >> 16) & 1);
        return BitConverter.UInt32BitsToSingle(bits & 0xFFFF0000);
    }

    /// <summary>The values' little-endian bytes (inline raw_data or the external file's range), or null when they sit in typed fields.</summary>
    public byte[]? RawBytes(string? directory) => External is { } external ? external.Read(Name, directory, Count * ElementBytes(DataType)) : _raw;

    public static int ElementBytes(int dataType) => dataType switch
    {
        OnnxDataType.Double or OnnxDataType.Int64 or OnnxDataType.UInt64 => 8,
        OnnxDataType.Float16 or OnnxDataType.BFloat16 or OnnxDataType.Int16 or OnnxDataType.UInt16 => 2,
        OnnxDataType.Int8 or OnnxDataType.UInt8 or OnnxDataType.Bool => 1,
        OnnxDataType.Float or OnnxDataType.Int32 or OnnxDataType.UInt32 => 4,
        _ => throw new InvalidDataException($"ONNX data type {dataType} is not read from external data by edge-convert."),
    };

    /// <summary>An external TensorProto rewritten with its bytes inline: the external entries and location go, raw_data comes.</summary>
    public static ProtoWriter Inline(ReadOnlySpan<byte> tensor, byte[] data)
    {
        var inline = new ProtoWriter();
        var reader = new ProtoReader(tensor);
        int start = 0;
        while (reader.Next())
        {
            reader.Skip();
            if (reader.Field is not (OnnxFields.Tensor.ExternalData or OnnxFields.Tensor.DataLocation))
            {
                inline.Raw(tensor[start..reader.Position]);
            }

            start = reader.Position;
        }

        return inline.Bytes(OnnxFields.Tensor.RawData, data);
    }

    public static TensorValue Read(ReadOnlySpan<byte> bytes)
    {
        var reader = new ProtoReader(bytes);
        var dims = new List<long>();
        List<float>? floats = null;
        List<int>? ints = null;
        List<double>? doubles = null;
        string name = string.Empty;
        int type = 0;
        byte[]? raw = null;
        bool external = false;
        string? location = null;
        long offset = 0, length = -1;
        while (reader.Next())
        {
            switch (reader.Field, reader.WireType)
            {
                case (OnnxFields.Tensor.Dims, WireType.Varint): dims.Add((long)reader.ReadVarint()); break;
                case (OnnxFields.Tensor.Dims, WireType.LengthDelimited): ReadPackedVarints(reader.ReadBytes(), v => dims.Add(v)); break;
                case (OnnxFields.Tensor.DataType, WireType.Varint): type = (int)reader.ReadVarint(); break;
                case (OnnxFields.Tensor.FloatData, WireType.LengthDelimited): (floats ??= []).AddRange(MemoryMarshal.Cast<byte, float>(reader.ReadBytes()).ToArray()); break;
                case (OnnxFields.Tensor.FloatData, WireType.Fixed32): (floats ??= []).Add(BitConverter.Int32BitsToSingle(reader.ReadFixed32())); break;
                case (OnnxFields.Tensor.Int32Data, WireType.LengthDelimited): ReadPackedVarints(reader.ReadBytes(), v => (ints ??= []).Add((int)v)); break;
                case (OnnxFields.Tensor.Int32Data, WireType.Varint): (ints ??= []).Add((int)reader.ReadVarint()); break;
                case (OnnxFields.Tensor.DoubleData, WireType.LengthDelimited): (doubles ??= []).AddRange(MemoryMarshal.Cast<byte, double>(reader.ReadBytes()).ToArray()); break;
                case (OnnxFields.Tensor.DoubleData, WireType.Fixed64): (doubles ??= []).Add(BitConverter.Int64BitsToDouble(reader.ReadFixed64())); break;
                case (OnnxFields.Tensor.Name, WireType.LengthDelimited): name = reader.ReadString(); break;
                case (OnnxFields.Tensor.RawData, WireType.LengthDelimited): raw = reader.ReadBytes().ToArray(); break;
                case (OnnxFields.Tensor.DataLocation, WireType.Varint): external = reader.ReadVarint() == OnnxFields.DataLocationValue.External; break;
                case (OnnxFields.Tensor.ExternalData, WireType.LengthDelimited):
                    var entry = reader.ReadBytes();
                    string key = ProtoReader.FirstString(entry, OnnxFields.StringStringEntry.Key);
                    string value = ProtoReader.FirstString(entry, OnnxFields.StringStringEntry.Value);
                    switch (key)
                    {
                        case "location": location = value; break;
                        case "offset": offset = long.Parse(value, NumberStyles.None, CultureInfo.InvariantCulture); break;
                        case "length": length = long.Parse(value, NumberStyles.None, CultureInfo.InvariantCulture); break;
                    }

                    break;
                default: reader.Skip(); break;
            }
        }

        if (external && location is null)
        {
            throw new InvalidDataException($"'{name}' is marked as external data but names no location.");
        }

        return new TensorValue(name, [.. dims], type)
        {
            _raw = raw,
            _floatData = floats?.ToArray(),
            _int32Data = ints?.ToArray(),
            _doubleData = doubles?.ToArray(),
            External = external ? new ExternalLocation(location!, offset, length) : null,
        };
    }

    private static void ReadPackedVarints(ReadOnlySpan<byte> bytes, Action<long> add)
    {
        var packed = new ProtoReader(bytes);
        while (!packed.AtEnd)
        {
            add((long)packed.ReadVarint());
        }
    }
}

/// <summary>
/// Where an external tensor's bytes are: a file named relative to the model's folder (ONNX's rule), an offset and a
/// length. Reading refuses a location that leaves the folder, as ONNX Runtime does, and a range the file does not hold.
/// </summary>
internal sealed record ExternalLocation(string Location, long Offset, long Length)
{
    public byte[] Read(string tensor, string? directory, long expectedBytes)
    {
        if (directory is null)
        {
            throw new InvalidDataException($"'{tensor}' is stored in the external file '{Location}', but the model's folder is not known.");
        }

        string root = Path.GetFullPath(directory);
        string path = Path.GetFullPath(Path.Combine(root, Location));
        if (Path.IsPathRooted(Location) || !path.StartsWith(root.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"'{tensor}' names the external file '{Location}', which is not inside the model's folder.");
        }

        long length = Length < 0 ? expectedBytes : Length;
        if (length != expectedBytes)
        {
            throw new InvalidDataException($"'{tensor}' has {length} bytes in '{Location}'; its shape and type need {expectedBytes}.");
        }

        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        if (Offset < 0 || Offset > file.Length - length)
        {
            throw new InvalidDataException($"'{tensor}' reads bytes {Offset}..{Offset + length} of '{Location}', which holds {file.Length}.");
        }

        var bytes = new byte[length];
        file.Position = Offset;
        file.ReadExactly(bytes);
        return bytes;
    }
}
