using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace EdgeRuntime.Protocol;

/// <summary>Reads and writes JSON headers, turning malformed JSON into a <see cref="ErrorCodes.BadRequest"/> error.</summary>
public static class ProtocolJson
{
    public static byte[] Serialize<T>(T value, JsonTypeInfo<T> typeInfo) => JsonSerializer.SerializeToUtf8Bytes(value, typeInfo);

    public static T Deserialize<T>(ReadOnlySpan<byte> json, JsonTypeInfo<T> typeInfo)
    {
        if (json.IsEmpty)
        {
            throw new EdgeRuntimeException(ErrorCodes.BadRequest, $"This message needs a JSON header ({typeof(T).Name}); the frame has none.");
        }

        try
        {
            return JsonSerializer.Deserialize(json, typeInfo)
                ?? throw new EdgeRuntimeException(ErrorCodes.BadRequest, $"The JSON header must be an object ({typeof(T).Name}), not null.");
        }
        catch (JsonException e)
        {
            throw new EdgeRuntimeException(ErrorCodes.BadRequest, $"Malformed JSON header for {typeof(T).Name}: {e.Message}", e);
        }
    }
}
