using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeRuntime.Protocol;

/// <summary>
/// Where a pipeline input comes from: a file replayed at its recorded pace (<see cref="Path"/>), or a sensor of the
/// daemon read live as it delivers (<see cref="Sensor"/>). In JSON a plain string is a path, so definitions written
/// before live inputs existed still read; <c>{"sensor": "mic"}</c> names a sensor and <c>{"path": "a.wav"}</c> a file.
/// </summary>
[JsonConverter(typeof(PipelineInputJsonConverter))]
public sealed record PipelineInput
{
    private PipelineInput(string? path, string? sensor) => (Path, Sensor) = (path, sensor);

    public string? Path { get; }

    public string? Sensor { get; }

    public bool IsLive => Sensor is not null;

    public static PipelineInput FromPath(string path) => new(path, null);

    public static PipelineInput FromSensor(string sensor) => new(null, sensor);

    /// <summary>The same input with its path replaced (made absolute by a client); a sensor input is returned as is.</summary>
    public PipelineInput WithPath(Func<string, string> map) => Path is null ? this : FromPath(map(Path));

    public override string ToString() => Sensor is not null ? $"sensor '{Sensor}'" : $"'{Path}'";
}

/// <summary>Reads a string as a path and an object as {"path": ...} or {"sensor": ...}; writes a path as a string.</summary>
public sealed class PipelineInputJsonConverter : JsonConverter<PipelineInput>
{
    public override PipelineInput Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.String)
        {
            return PipelineInput.FromPath(reader.GetString()!);
        }

        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw new JsonException("A pipeline input is a path (a string) or an object: {\"sensor\": NAME} or {\"path\": FILE}.");
        }

        string? path = null, sensor = null;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            string key = reader.GetString()!;
            reader.Read();
            string value = reader.TokenType == JsonTokenType.String
                ? reader.GetString()!
                : throw new JsonException($"A pipeline input's \"{key}\" is a string.");
            switch (key)
            {
                case "path":
                    path = value;
                    break;
                case "sensor":
                    sensor = value;
                    break;
                default:
                    throw new JsonException($"A pipeline input has \"path\" or \"sensor\", not \"{key}\".");
            }
        }

        return (path, sensor) switch
        {
            ({ Length: > 0 }, null) => PipelineInput.FromPath(path),
            (null, { Length: > 0 }) => PipelineInput.FromSensor(sensor),
            _ => throw new JsonException("A pipeline input names exactly one of \"path\" and \"sensor\", and not as an empty string."),
        };
    }

    public override void Write(Utf8JsonWriter writer, PipelineInput value, JsonSerializerOptions options)
    {
        if (value.Sensor is { } sensor)
        {
            writer.WriteStartObject();
            writer.WriteString("sensor", sensor);
            writer.WriteEndObject();
        }
        else
        {
            writer.WriteStringValue(value.Path);
        }
    }
}
