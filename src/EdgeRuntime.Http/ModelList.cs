using System.Text.Json.Serialization;

namespace EdgeRuntime.Http;

/// <summary>GET /v1/models: the loaded language models.</summary>
internal sealed record ModelList(ModelEntry[] Data)
{
    [JsonPropertyOrder(-1)]
    public string Object => "list";
}

/// <summary>One model; created is when edged loaded it (Unix seconds).</summary>
internal sealed record ModelEntry([property: JsonPropertyOrder(-2)] string Id, long Created)
{
    [JsonPropertyOrder(-1)]
    public string Object => "model";

    public string OwnedBy => "edged";

    /// <summary>An extension: the positions a session holds (prompt and answer together).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? ContextLength { get; init; }
}
