using System.Text.Json.Serialization;

namespace EdgeRuntime.Http;

/// <summary>GET /v1/models: the loaded language models.</summary>
internal sealed record ModelList(ModelEntry[] Data)
{
    public string Object => "list";
}

/// <summary>One model; created is when edged loaded it (Unix seconds).</summary>
internal sealed record ModelEntry(string Id, long Created)
{
    public string Object => "model";

    public string OwnedBy => "edged";

    /// <summary>An extension: the positions a session holds (prompt and answer together).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? ContextLength { get; init; }
}
