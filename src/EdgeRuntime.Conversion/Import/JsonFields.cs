using System.Text.Json;

namespace EdgeRuntime.Conversion.Import;

/// <summary>Typed reads of a checkpoint's JSON (config.json and friends) whose errors name the file and the key.</summary>
internal readonly struct JsonFields(string path, JsonElement root)
{
    public string Path => path;

    public JsonElement Root => root;

    public static JsonDocument Parse(string path)
    {
        try
        {
            var document = JsonDocument.Parse(File.ReadAllBytes(path));
            return document.RootElement.ValueKind == JsonValueKind.Object
                ? document
                : throw new InvalidDataException($"{path} does not hold a JSON object.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path} is not valid JSON ({e.Message}).", e);
        }
    }

    public bool Has(string name) => root.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null;

    public int Int(string name) => OptionalInt(name) ?? throw new InvalidDataException($"{path} has no {name}.");

    public int? OptionalInt(string name)
    {
        if (!Has(name))
        {
            return null;
        }

        var value = root.GetProperty(name);
        return value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int number)
            ? number
            : throw new InvalidDataException($"{path}: {name} is {value.GetRawText()}, not an integer.");
    }

    public double Double(string name)
    {
        if (!Has(name))
        {
            throw new InvalidDataException($"{path} has no {name}.");
        }

        var value = root.GetProperty(name);
        return value.ValueKind == JsonValueKind.Number ? value.GetDouble() : throw new InvalidDataException($"{path}: {name} is {value.GetRawText()}, not a number.");
    }

    public string? OptionalString(string name)
    {
        if (!Has(name))
        {
            return null;
        }

        var value = root.GetProperty(name);
        return value.ValueKind == JsonValueKind.String ? value.GetString() : throw new InvalidDataException($"{path}: {name} is {value.GetRawText()}, not a string.");
    }

    public bool? OptionalBool(string name)
    {
        if (!Has(name))
        {
            return null;
        }

        var value = root.GetProperty(name);
        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new InvalidDataException($"{path}: {name} is {value.GetRawText()}, not true or false."),
        };
    }

    /// <summary>An id or a list of ids (eos_token_id is either); empty when absent.</summary>
    public int[] Ids(string name)
    {
        if (!Has(name))
        {
            return [];
        }

        var value = root.GetProperty(name);
        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int single))
        {
            return [single];
        }

        if (value.ValueKind == JsonValueKind.Array)
        {
            var ids = new List<int>();
            foreach (var element in value.EnumerateArray())
            {
                ids.Add(element.ValueKind == JsonValueKind.Number && element.TryGetInt32(out int id) ? id : throw new InvalidDataException($"{path}: {name} holds {element.GetRawText()}, not a token id."));
            }

            return [.. ids];
        }

        throw new InvalidDataException($"{path}: {name} is {value.GetRawText()}, not a token id or a list of them.");
    }

    public JsonFields? Object(string name)
    {
        if (!Has(name))
        {
            return null;
        }

        var value = root.GetProperty(name);
        return value.ValueKind == JsonValueKind.Object ? new JsonFields($"{path} ({name})", value) : throw new InvalidDataException($"{path}: {name} is not an object.");
    }
}
