using System.Text.Json;
using System.Text.Unicode;

namespace EdgeRuntime.Protocol;

/// <summary>
/// Messages that take no fields (models, stats, health, pipelines) still follow the framing rule for JSON headers:
/// empty, or one UTF-8 JSON object. Anything else is a client bug that should surface as bad_request, not be ignored.
/// </summary>
public static class BodilessRequest
{
    public static void Check(MessageType type, ReadOnlySpan<byte> json)
    {
        if (json.IsEmpty)
        {
            return;
        }

        string name = type.ToString().ToLowerInvariant();
        if (!Utf8.IsValid(json))
        {
            throw new EdgeRuntimeException(ErrorCodes.BadRequest, $"The {name} request's JSON header is not valid UTF-8.");
        }

        try
        {
            var reader = new Utf8JsonReader(json);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                throw new EdgeRuntimeException(ErrorCodes.BadRequest, $"The {name} request's JSON header must be empty or a JSON object.");
            }

            reader.Skip();
            if (reader.Read())
            {
                throw new EdgeRuntimeException(ErrorCodes.BadRequest, $"The {name} request's JSON header has bytes after its object.");
            }
        }
        catch (JsonException e)
        {
            throw new EdgeRuntimeException(ErrorCodes.BadRequest, $"The {name} request's JSON header is malformed: {e.Message}");
        }
    }
}
