using System.Buffers.Binary;

namespace EdgeRuntime.Protocol;

/// <summary>
/// The fixed 24-byte frame header. All integers little-endian:
/// magic u32 | version u8 | type u8 | flags u16 | request id u64 | JSON length u32 | payload length u32.
/// </summary>
public readonly record struct FrameHeader(MessageType Type, FrameFlags Flags, ulong RequestId, int JsonLength, int PayloadLength)
{
    /// <summary>"EDGR" as bytes on the wire (0x45 0x44 0x47 0x52).</summary>
    public const uint Magic = 0x52474445;
    public const byte CurrentVersion = 1;
    public const int Size = 24;

    public long FrameLength => Size + (long)JsonLength + PayloadLength;

    public bool IsResponse => (Flags & FrameFlags.Response) != 0;

    public bool IsError => (Flags & FrameFlags.Error) != 0;

    public void Write(Span<byte> destination)
    {
        if (destination.Length < Size)
        {
            throw new ArgumentException($"A frame header needs {Size} bytes.", nameof(destination));
        }

        BinaryPrimitives.WriteUInt32LittleEndian(destination, Magic);
        destination[4] = CurrentVersion;
        destination[5] = (byte)Type;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[6..], (ushort)Flags);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[8..], RequestId);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[16..], checked((uint)JsonLength));
        BinaryPrimitives.WriteUInt32LittleEndian(destination[20..], checked((uint)PayloadLength));
    }
}
