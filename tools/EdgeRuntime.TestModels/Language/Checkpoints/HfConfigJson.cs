using System.Text.Json;

namespace EdgeRuntime.TestModels.Language.Checkpoints;

/// <summary>Writes a Hugging Face config.json from raw JSON entries, with a test's overrides applied (replaced, or left out with null).</summary>
internal static class HfConfigJson
{
    public static void Write(string path, List<(string Key, string Raw)> entries, IReadOnlyDictionary<string, string?>? overrides)
    {
        foreach (var (key, raw) in overrides ?? new Dictionary<string, string?>())
        {
            entries.RemoveAll(e => e.Key == key);
            if (raw is not null)
            {
                entries.Add((key, raw));
            }
        }

        using var stream = File.Create(path);
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        foreach (var (key, raw) in entries)
        {
            json.WritePropertyName(key);
            json.WriteRawValue(raw);
        }

        json.WriteEndObject();
    }
}
