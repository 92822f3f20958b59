using System.Buffers.Binary;
using System.Text;

namespace EdgeRuntime.Store;

/// <summary>
/// The on-disk layout. A segment starts with an 8-byte magic; then records, each
/// <c>u32 bodyLength, u32 crc32c(body), body</c>, where body is
/// <c>u64 id, i64 writtenAt (Unix µs), u16 tagLength, u32 jsonLength, u32 payloadLength, tag, json, payload</c>,
/// all little-endian. A record whose length runs past the end of the file or whose CRC does not match was torn by a
/// crash in the middle of a write; everything from it on is discarded at open.
/// </summary>
internal static class RecordFormat
{
    public static ReadOnlySpan<byte> SegmentMagic => "EDGRJNL1"u8;

    public const int FrameHeaderBytes = 8;
    public const int BodyHeaderBytes = 8 + 8 + 2 + 4 + 4;

    /// <summary>Refuses absurd lengths from a corrupt header before anything is allocated.</summary>
    public const int MaxBodyBytes = 256 * 1024 * 1024;

    public static int Size(int tagBytes, int jsonBytes, int payloadBytes) => FrameHeaderBytes + BodyHeaderBytes + tagBytes + jsonBytes + payloadBytes;

    public static int Write(Span<byte> destination, long id, long writtenAtMicros, string tag, ReadOnlySpan<byte> json, ReadOnlySpan<byte> payload)
    {
        int tagBytes = Encoding.UTF8.GetByteCount(tag);
        int bodyLength = BodyHeaderBytes + tagBytes + json.Length + payload.Length;
        var body = destination.Slice(FrameHeaderBytes, bodyLength);
        BinaryPrimitives.WriteInt64LittleEndian(body, id);
        BinaryPrimitives.WriteInt64LittleEndian(body[8..], writtenAtMicros);
        BinaryPrimitives.WriteUInt16LittleEndian(body[16..], checked((ushort)tagBytes));
        BinaryPrimitives.WriteInt32LittleEndian(body[18..], json.Length);
        BinaryPrimitives.WriteInt32LittleEndian(body[22..], payload.Length);
        int at = BodyHeaderBytes;
        at += Encoding.UTF8.GetBytes(tag, body[at..]);
        json.CopyTo(body[at..]);
        at += json.Length;
        payload.CopyTo(body[at..]);
        BinaryPrimitives.WriteInt32LittleEndian(destination, bodyLength);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], Crc32C.Compute(body));
        return FrameHeaderBytes + bodyLength;
    }

    /// <summary>Reads the frame header: the body length, or -1 when it cannot be a record.</summary>
    public static int ReadBodyLength(ReadOnlySpan<byte> frameHeader, out uint crc)
    {
        int length = BinaryPrimitives.ReadInt32LittleEndian(frameHeader);
        crc = BinaryPrimitives.ReadUInt32LittleEndian(frameHeader[4..]);
        return length < BodyHeaderBytes || length > MaxBodyBytes ? -1 : length;
    }

    public static long ReadId(ReadOnlySpan<byte> body) => BinaryPrimitives.ReadInt64LittleEndian(body);

    public static long ReadWrittenAt(ReadOnlySpan<byte> body) => BinaryPrimitives.ReadInt64LittleEndian(body[8..]);

    /// <summary>Decodes a body whose CRC has been checked. Returns null when its inner lengths do not add up.</summary>
    public static JournalRecord? Decode(ReadOnlySpan<byte> body)
    {
        int tagBytes = BinaryPrimitives.ReadUInt16LittleEndian(body[16..]);
        int jsonBytes = BinaryPrimitives.ReadInt32LittleEndian(body[18..]);
        int payloadBytes = BinaryPrimitives.ReadInt32LittleEndian(body[22..]);
        if (jsonBytes < 0 || payloadBytes < 0 || (long)BodyHeaderBytes + tagBytes + jsonBytes + payloadBytes != body.Length)
        {
            return null;
        }

        int at = BodyHeaderBytes;
        string tag = Encoding.UTF8.GetString(body.Slice(at, tagBytes));
        at += tagBytes;
        byte[] json = body.Slice(at, jsonBytes).ToArray();
        at += jsonBytes;
        byte[] payload = body.Slice(at, payloadBytes).ToArray();
        return new JournalRecord(ReadId(body), DateTimeOffset.FromUnixTimeMilliseconds(0).AddTicks(ReadWrittenAt(body) * 10), tag, json, payload);
    }
}
