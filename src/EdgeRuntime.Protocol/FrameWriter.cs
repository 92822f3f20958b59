using System.Buffers;

namespace EdgeRuntime.Protocol;

/// <summary>Writes frames into any <see cref="IBufferWriter{T}"/> (a PipeWriter, an ArrayBufferWriter).</summary>
public static class FrameWriter
{
    /// <summary>Writes a whole frame whose payload is one contiguous span.</summary>
    public static void Write(IBufferWriter<byte> writer, MessageType type, FrameFlags flags, ulong requestId, ReadOnlySpan<byte> json, ReadOnlySpan<byte> payload)
    {
        WriteHeader(writer, new FrameHeader(type, flags, requestId, json.Length, payload.Length));
        writer.Write(json);
        writer.Write(payload);
    }

    /// <summary>
    /// Writes the fixed header only. The caller then writes exactly <see cref="FrameHeader.JsonLength"/> JSON bytes and
    /// <see cref="FrameHeader.PayloadLength"/> payload bytes, so tensors can be copied in piece by piece.
    /// </summary>
    public static void WriteHeader(IBufferWriter<byte> writer, in FrameHeader header)
    {
        var span = writer.GetSpan(FrameHeader.Size);
        header.Write(span);
        writer.Advance(FrameHeader.Size);
    }
}
