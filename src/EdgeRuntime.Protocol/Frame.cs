using System.Buffers;

namespace EdgeRuntime.Protocol;

/// <summary>
/// One parsed frame. <see cref="Json"/> and <see cref="Payload"/> are slices of the reader's buffer and are valid
/// only until the reader is advanced: copy what must outlive that.
/// </summary>
public readonly struct Frame(FrameHeader header, ReadOnlySequence<byte> json, ReadOnlySequence<byte> payload)
{
    public FrameHeader Header { get; } = header;

    public ReadOnlySequence<byte> Json { get; } = json;

    public ReadOnlySequence<byte> Payload { get; } = payload;
}

/// <summary>What <see cref="FrameReader.TryReadFrame"/> found at the start of the buffer.</summary>
public enum FrameStatus
{
    /// <summary>Not enough bytes yet for a whole frame; nothing was consumed.</summary>
    Incomplete,

    /// <summary>A whole frame was read and consumed.</summary>
    Complete,

    /// <summary>The header announces a frame above the limit. Nothing was consumed; skip <see cref="FrameHeader.FrameLength"/> bytes.</summary>
    TooLarge,

    /// <summary>The bytes are not a protocol frame (bad magic). The stream cannot be resynchronised.</summary>
    BadMagic,

    /// <summary>A frame of a protocol version this code does not speak. The stream cannot be trusted further.</summary>
    UnsupportedVersion,

    /// <summary>A length field above 2^31 - 1: no frame is that large, so the stream cannot be trusted further.</summary>
    Malformed,
}
