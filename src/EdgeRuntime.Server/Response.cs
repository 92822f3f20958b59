using EdgeRuntime.Protocol;

namespace EdgeRuntime.Server;

/// <summary>A response ready to frame. <see cref="Owner"/> (a pooled output buffer) is disposed once it has been written.</summary>
internal readonly record struct Response(MessageType Type, FrameFlags Flags, byte[] Json, ReadOnlyMemory<byte> Payload, IDisposable? Owner = null)
{
    public static Response Ok<T>(MessageType type, T body, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo) =>
        new(type, FrameFlags.Response, ProtocolJson.Serialize(body, typeInfo), ReadOnlyMemory<byte>.Empty);

    public static Response Error(MessageType type, string code, string message) =>
        new(type, FrameFlags.Response | FrameFlags.Error, ProtocolJson.Serialize(new ErrorResponse(code, message), ProtocolJsonContext.Default.ErrorResponse), ReadOnlyMemory<byte>.Empty);
}
