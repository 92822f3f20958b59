using System.Buffers;
using System.Buffers.Binary;

namespace EdgeRuntime.Protocol;

/// <summary>Parses frames out of a byte sequence. A pure function: no I/O, no allocation.</summary>
public static class FrameReader
{
    /// <summary>
    /// Reads one frame from the start of <paramref name="buffer"/>. On <see cref="FrameStatus.Complete"/> the buffer
    /// is advanced past the frame; otherwise it is left as it was. The size limit is checked from the header alone,
    /// so an oversized frame is refused before its payload is waited for.
    /// </summary>
    public static FrameStatus TryReadFrame(ref ReadOnlySequence<byte> buffer, long maxFrameBytes, out Frame frame, out FrameHeader header)
    {
        frame = default;
        header = default;
        if (buffer.Length < FrameHeader.Size)
        {
            return FrameStatus.Incomplete;
        }

        Span<byte> raw = stackalloc byte[FrameHeader.Size];
        buffer.Slice(0, FrameHeader.Size).CopyTo(raw);

        if (BinaryPrimitives.ReadUInt32LittleEndian(raw) != FrameHeader.Magic)
        {
            return FrameStatus.BadMagic;
        }

        var type = (MessageType)raw[5];
        var flags = (FrameFlags)BinaryPrimitives.ReadUInt16LittleEndian(raw[6..]);
        ulong requestId = BinaryPrimitives.ReadUInt64LittleEndian(raw[8..]);
        uint jsonLength = BinaryPrimitives.ReadUInt32LittleEndian(raw[16..]);
        uint payloadLength = BinaryPrimitives.ReadUInt32LittleEndian(raw[20..]);
        long frameLength = FrameHeader.Size + (long)jsonLength + payloadLength;

        // Lengths above int.MaxValue are clamped so the header stays representable; such a frame is Malformed.
        header = new FrameHeader(type, flags, requestId, (int)Math.Min(jsonLength, int.MaxValue), (int)Math.Min(payloadLength, int.MaxValue));

        if (raw[4] != FrameHeader.CurrentVersion)
        {
            return FrameStatus.UnsupportedVersion;
        }

        if (jsonLength > int.MaxValue || payloadLength > int.MaxValue)
        {
            return FrameStatus.Malformed;
        }

        if (frameLength > maxFrameBytes)
        {
            return FrameStatus.TooLarge;
        }

        if (buffer.Length < frameLength)
        {
            return FrameStatus.Incomplete;
        }

        var json = buffer.Slice(FrameHeader.Size, jsonLength);
        var payload = buffer.Slice(FrameHeader.Size + jsonLength, payloadLength);
        frame = new Frame(header, json, payload);
        buffer = buffer.Slice(frameLength);
        return FrameStatus.Complete;
    }
}
