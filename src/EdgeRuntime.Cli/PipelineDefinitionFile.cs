using System.Text.Json;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Cli;

/// <summary>
/// Reads a pipeline definition for edgectl pipeline-load: the JSON of a "pipelines" entry of the daemon's
/// configuration, which people write by hand, so comments and trailing commas are allowed.
/// </summary>
internal static class PipelineDefinitionFile
{
    public static PipelineDefinition Read(string file)
    {
        ReadOnlySpan<byte> json = File.ReadAllBytes(file);

        // Utf8JsonReader does not skip a byte order mark, and editors on some systems write one.
        if (json.StartsWith("\xEF\xBB\xBF"u8))
        {
            json = json[3..];
        }

        var options = new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };
        var reader = new Utf8JsonReader(json, options);
        PipelineDefinition definition;
        try
        {
            definition = JsonSerializer.Deserialize(ref reader, ProtocolJsonContext.Default.PipelineDefinition)
                ?? throw new InvalidDataException($"{file}: the pipeline definition is null.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{file} is not a pipeline definition (name, kind, manifest, ...): {e.Message}", e);
        }

        // Paths that exist from here are meant as seen from here; the daemon may run in another folder.
        return definition with
        {
            Manifest = LocalPaths.AbsoluteIfHere(definition.Manifest),
            Inputs = definition.Inputs.ToDictionary(p => p.Key, p => p.Value.WithPath(LocalPaths.AbsoluteIfHere), StringComparer.Ordinal),
        };
    }
}
