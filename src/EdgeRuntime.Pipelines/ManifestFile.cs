using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace EdgeRuntime.Pipelines;

/// <summary>Reads the manifest a training script wrote; every failure is an <see cref="InvalidDataException"/> naming the file.</summary>
internal static class ManifestFile
{
    /// <param name="kind">"MMEdge" or "CBNet", for the message.</param>
    public static T Read<T>(string path, JsonTypeInfo<T> type, string kind)
    {
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(path), type)
                ?? throw new InvalidDataException($"The {kind} manifest '{path}' is null.");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidDataException($"Cannot read the {kind} manifest '{path}': {e.Message}", e);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"The {kind} manifest '{path}' is not valid: {e.Message}", e);
        }
    }
}
