namespace EdgeRuntime.Onnx;

/// <summary>
/// Walks protobuf fields in a buffer: just enough of the wire format to read an ONNX model's graph structure
/// without a generated protobuf library. Malformed input throws <see cref="InvalidDataException"/>.
/// </summary>
public ref struct ProtoReader(ReadOnlySpan<byte> buffer)
{
    private readonly ReadOnlySpan<byte> _buffer = buffer;
    private int _position;

    /// <summary>Offset of the next unread byte (after <see cref="Next"/>: the field's value; after a read or skip: the next tag).</summary>
    public readonly int Position => _position;

    public readonly bool AtEnd => _position >= _buffer.Length;

    public int Field { get; private set; }

    public int WireType { get; private set; }

    /// <summary>Whether the current field is <paramref name="field"/> with wire type <paramref name="wireType"/>.</summary>
    public readonly bool Is(int field, int wireType) => Field == field && WireType == wireType;

    /// <summary>Moves to the next field; false at the end of the buffer.</summary>
    public bool Next()
    {
        if (_position >= _buffer.Length)
        {
            return false;
        }

        ulong tag = ReadVarint();
        Field = (int)(tag >> 3);
        WireType = (int)(tag & 7);
        if (Field == 0)
        {
            throw new InvalidDataException("Protobuf field number 0.");
        }

        return true;
    }

    public ulong ReadVarint()
    {
        ulong value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (_position >= _buffer.Length)
            {
                throw new InvalidDataException("Truncated protobuf varint.");
            }

            byte b = _buffer[_position++];
            value |= (ulong)(b & 0x7f) << shift;
            if ((b & 0x80) == 0)
            {
                return value;
            }
        }

        throw new InvalidDataException("Protobuf varint longer than 10 bytes.");
    }

    public int ReadFixed32()
    {
        Advance(4);
        return System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(_buffer.Slice(_position - 4, 4));
    }

    public long ReadFixed64()
    {
        Advance(8);
        return System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(_buffer.Slice(_position - 8, 8));
    }

    public ReadOnlySpan<byte> ReadBytes()
    {
        ulong length = ReadVarint();
        if (length > (ulong)(_buffer.Length - _position))
        {
            throw new InvalidDataException("Protobuf length runs past the end of the buffer.");
        }

        var bytes = _buffer.Slice(_position, (int)length);
        _position += (int)length;
        return bytes;
    }

    public string ReadString() => System.Text.Encoding.UTF8.GetString(ReadBytes());

    public void Skip()
    {
        switch (WireType)
        {
            case Onnx.WireType.Varint: ReadVarint(); break;
            case Onnx.WireType.Fixed64: Advance(8); break;
            case Onnx.WireType.LengthDelimited: ReadBytes(); break;
            case Onnx.WireType.Fixed32: Advance(4); break;
            default: throw new InvalidDataException($"Unsupported protobuf wire type {WireType}.");
        }
    }

    private void Advance(int count)
    {
        if (count > _buffer.Length - _position)
        {
            throw new InvalidDataException("Truncated protobuf field.");
        }

        _position += count;
    }

    /// <summary>The first length-delimited field <paramref name="field"/> of a message as a string (a name or a domain), or "".</summary>
    public static string FirstString(ReadOnlySpan<byte> message, int field)
    {
        var bytes = FirstBytes(message, field, out bool found);
        return found ? System.Text.Encoding.UTF8.GetString(bytes) : string.Empty;
    }

    /// <summary>The first length-delimited field <paramref name="field"/> of a message, or empty.</summary>
    public static ReadOnlySpan<byte> FirstBytes(ReadOnlySpan<byte> message, int field) => FirstBytes(message, field, out _);

    /// <summary>The first varint field <paramref name="field"/> of a message, or 0.</summary>
    public static long FirstVarint(ReadOnlySpan<byte> message, int field)
    {
        var reader = new ProtoReader(message);
        while (reader.Next())
        {
            if (reader.Is(field, Onnx.WireType.Varint))
            {
                return (long)reader.ReadVarint();
            }

            reader.Skip();
        }

        return 0;
    }

    private static ReadOnlySpan<byte> FirstBytes(ReadOnlySpan<byte> message, int field, out bool found)
    {
        var reader = new ProtoReader(message);
        while (reader.Next())
        {
            if (reader.Is(field, Onnx.WireType.LengthDelimited))
            {
                found = true;
                return reader.ReadBytes();
            }

            reader.Skip();
        }

        found = false;
        return default;
    }
}
