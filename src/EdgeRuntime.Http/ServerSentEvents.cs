using System.Buffers;
using System.IO.Pipelines;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace EdgeRuntime.Http;

/// <summary>
/// Writes a text/event-stream as OpenAI streams: "data: JSON\n\n" per event and "data: [DONE]\n\n" at the end.
/// Events are buffered in the response pipe until <see cref="FlushAsync"/>, so tokens that arrive together leave in
/// one write.
/// </summary>
internal sealed class ServerSentEvents(PipeWriter output) : IDisposable
{
    private readonly Utf8JsonWriter _json = new(output, JsonBodies.WriterOptions);

    public void Write<T>(T value, JsonTypeInfo<T> type)
    {
        output.Write("data: "u8);
        _json.Reset(output);
        JsonSerializer.Serialize(_json, value, type);
        _json.Flush();
        output.Write("\n\n"u8);
    }

    /// <summary>The error that ended a stream whose status line has already gone: OpenAI's SDKs raise it as an APIError.</summary>
    public void WriteError(HttpApiException error) => Write(ErrorResponses.Body(error), OpenAiJsonContext.Default.ErrorBody);

    public void WriteDone() => output.Write("data: [DONE]\n\n"u8);

    public async ValueTask FlushAsync(CancellationToken cancellationToken) => await output.FlushAsync(cancellationToken).ConfigureAwait(false);

    public void Dispose() => _json.Dispose();
}
