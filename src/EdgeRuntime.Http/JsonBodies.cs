using System.Buffers;
using System.IO.Pipelines;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http;

namespace EdgeRuntime.Http;

/// <summary>Reads request bodies and writes whole JSON answers, through <see cref="OpenAiJsonContext"/> only.</summary>
internal static class JsonBodies
{
    /// <summary>
    /// Text is written as UTF-8, not as \u escapes: the answers are read by programs, never embedded in HTML, and a
    /// reply in another script would otherwise be six bytes a character. Quotes and control characters are still escaped,
    /// so one JSON value never spans lines (server-sent events depend on that).
    /// </summary>
    public static JsonWriterOptions WriterOptions { get; } = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The request's JSON body as <typeparamref name="T"/>; a 400 naming the problem when it is not.</summary>
    public static async Task<T> ReadAsync<T>(HttpRequest request, JsonTypeInfo<T> type)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(request);
        try
        {
            // Any content type is read as JSON: curl -d sends application/x-www-form-urlencoded unless told otherwise.
            return await JsonSerializer.DeserializeAsync(request.Body, type, request.HttpContext.RequestAborted).ConfigureAwait(false)
                ?? throw HttpApiException.BadRequest(null, "The request body is null; it must be a JSON object.");
        }
        catch (JsonException e)
        {
            throw HttpApiException.BadRequest(e.Path is { Length: > 1 } path ? path.TrimStart('$', '.') : null, $"The request body is not valid JSON for this endpoint: {e.Message}");
        }
    }

    /// <summary>Writes <paramref name="value"/> as the whole answer, with its length.</summary>
    public static async Task WriteAsync<T>(HttpResponse response, int status, T value, JsonTypeInfo<T> type)
    {
        ArgumentNullException.ThrowIfNull(response);
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var json = new Utf8JsonWriter(buffer, WriterOptions))
        {
            JsonSerializer.Serialize(json, value, type);
        }

        response.StatusCode = status;
        response.ContentType = "application/json";
        response.ContentLength = buffer.WrittenCount;
        await response.BodyWriter.WriteAsync(buffer.WrittenMemory, response.HttpContext.RequestAborted).ConfigureAwait(false);
    }
}
