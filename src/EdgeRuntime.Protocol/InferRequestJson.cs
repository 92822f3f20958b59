using System.Diagnostics.CodeAnalysis;
using System.Text.Json;

namespace EdgeRuntime.Protocol;

/// <summary>
/// A hand-written reader for the infer header, the one JSON the daemon parses per request. The generated serializer
/// binds records through their constructors, which for a five-field descriptor means caching every argument before
/// building it; this reads the fields straight into locals. It takes only the plain form clients send (known fields,
/// no nulls, integer numbers); anything else returns false and the caller parses with <see cref="ProtocolJsonContext"/>,
/// which also produces the error messages. Both must agree on every header this accepts (tested).
/// </summary>
public static class InferRequestJson
{
    public static bool TryParse(ReadOnlySpan<byte> json, [NotNullWhen(true)] out InferRequest? request)
    {
        request = null;
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 8 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            string? model = null;
            TensorDescriptor[]? inputs = null;
            string[]? outputs = null;
            RegionRange? outputRegion = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("model"u8) && model is null)
                {
                    if (!ReadString(ref reader, out model))
                    {
                        return false;
                    }
                }
                else if (reader.ValueTextEquals("inputs"u8) && inputs is null)
                {
                    if (!ReadDescriptors(ref reader, out inputs))
                    {
                        return false;
                    }
                }
                else if (reader.ValueTextEquals("outputs"u8) && outputs is null)
                {
                    if (!ReadStrings(ref reader, out outputs))
                    {
                        return false;
                    }
                }
                else if (reader.ValueTextEquals("outputRegion"u8) && outputRegion is null)
                {
                    if (!ReadRange(ref reader, out outputRegion))
                    {
                        return false;
                    }
                }
                else
                {
                    return false; // unknown or repeated field: the general reader decides
                }
            }

            if (reader.TokenType != JsonTokenType.EndObject || reader.Read() || model is null || inputs is null)
            {
                return false;
            }

            request = new InferRequest(model, inputs, outputs) { OutputRegion = outputRegion };
            return true;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return false; // malformed JSON or text that is not UTF-8: the general reader words the error
        }
    }

    private static bool ReadDescriptors(ref Utf8JsonReader reader, [NotNullWhen(true)] out TensorDescriptor[]? descriptors)
    {
        descriptors = null;
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray)
        {
            return false;
        }

        var list = new List<TensorDescriptor>(4);
        while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
        {
            if (!ReadDescriptor(ref reader, out var descriptor))
            {
                return false;
            }

            list.Add(descriptor);
        }

        if (reader.TokenType != JsonTokenType.EndArray)
        {
            return false;
        }

        descriptors = [.. list];
        return true;
    }

    private static bool ReadDescriptor(ref Utf8JsonReader reader, [NotNullWhen(true)] out TensorDescriptor? descriptor)
    {
        descriptor = null;
        string? name = null, dtype = null, region = null;
        long[]? shape = null;
        long offset = 0, length = 0;
        bool haveOffset = false, haveLength = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            bool ok;
            if (reader.ValueTextEquals("name"u8) && name is null)
            {
                ok = ReadString(ref reader, out name);
            }
            else if (reader.ValueTextEquals("dtype"u8) && dtype is null)
            {
                ok = ReadString(ref reader, out dtype);
            }
            else if (reader.ValueTextEquals("shape"u8) && shape is null)
            {
                ok = ReadIntegers(ref reader, out shape);
            }
            else if (reader.ValueTextEquals("offset"u8) && !haveOffset)
            {
                ok = haveOffset = ReadInteger(ref reader, out offset);
            }
            else if (reader.ValueTextEquals("length"u8) && !haveLength)
            {
                ok = haveLength = ReadInteger(ref reader, out length);
            }
            else if (reader.ValueTextEquals("region"u8) && region is null)
            {
                ok = ReadString(ref reader, out region);
            }
            else
            {
                ok = false;
            }

            if (!ok)
            {
                return false;
            }
        }

        if (reader.TokenType != JsonTokenType.EndObject || name is null || dtype is null || shape is null || !haveOffset || !haveLength)
        {
            return false;
        }

        descriptor = new TensorDescriptor(name, dtype, shape, offset, length) { Region = region };
        return true;
    }

    private static bool ReadRange(ref Utf8JsonReader reader, [NotNullWhen(true)] out RegionRange? range)
    {
        range = null;
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return false;
        }

        string? region = null;
        long offset = 0, length = 0;
        bool haveOffset = false, haveLength = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            bool ok;
            if (reader.ValueTextEquals("region"u8) && region is null)
            {
                ok = ReadString(ref reader, out region);
            }
            else if (reader.ValueTextEquals("offset"u8) && !haveOffset)
            {
                ok = haveOffset = ReadInteger(ref reader, out offset);
            }
            else if (reader.ValueTextEquals("length"u8) && !haveLength)
            {
                ok = haveLength = ReadInteger(ref reader, out length);
            }
            else
            {
                ok = false;
            }

            if (!ok)
            {
                return false;
            }
        }

        if (reader.TokenType != JsonTokenType.EndObject || region is null || !haveOffset || !haveLength)
        {
            return false;
        }

        range = new RegionRange(region, offset, length);
        return true;
    }

    private static bool ReadString(ref Utf8JsonReader reader, [NotNullWhen(true)] out string? value)
    {
        value = reader.Read() && reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
        return value is not null;
    }

    private static bool ReadInteger(ref Utf8JsonReader reader, out long value)
    {
        value = 0;
        return reader.Read() && reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out value);
    }

    private static bool ReadIntegers(ref Utf8JsonReader reader, [NotNullWhen(true)] out long[]? values)
    {
        values = null;
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray)
        {
            return false;
        }

        Span<long> small = stackalloc long[8];
        int count = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.Number)
        {
            if (count == small.Length || !reader.TryGetInt64(out small[count]))
            {
                return false; // rank above 8 is rare: the general reader takes it
            }

            count++;
        }

        if (reader.TokenType != JsonTokenType.EndArray)
        {
            return false;
        }

        values = small[..count].ToArray();
        return true;
    }

    private static bool ReadStrings(ref Utf8JsonReader reader, [NotNullWhen(true)] out string[]? values)
    {
        values = null;
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray)
        {
            return false;
        }

        var list = new List<string>(2);
        while (reader.Read() && reader.TokenType == JsonTokenType.String)
        {
            list.Add(reader.GetString()!);
        }

        if (reader.TokenType != JsonTokenType.EndArray)
        {
            return false;
        }

        values = [.. list];
        return true;
    }
}
