namespace EdgeRuntime.Inference.Onnx;

/// <summary>
/// Walks protobuf fields in a buffer: just enough of the wire format to read an ONNX model's graph structure
/// without a generated protobuf library. Malformed input throws <see cref="InvalidDataException"/>.
/// </summary>
internal ref struct ProtoReader(ReadOnlySpan<byte> buffer)
{
    private readonly ReadOnlySpan<byte> _buffer = buffer;
    private int _position;

    /// <summary>Offset of the next unread byte (after <see cref="Next"/>: the field's value; after a read or skip: the next tag).</summary>
    public readonly int Position => _position;

    public readonly bool AtEnd => _position >= _buffer.Length;

    public int Field { get; private set; }

    public int WireType { get; private set; }

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
            case 0: ReadVarint(); break;
            case 1: Advance(8); break;
            case 2: ReadBytes(); break;
            case 5: Advance(4); break;
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
}
