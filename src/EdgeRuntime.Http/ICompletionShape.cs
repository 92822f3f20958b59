using Microsoft.AspNetCore.Http;

namespace EdgeRuntime.Http;

/// <summary>What every answer of one request carries: its id, when it was created (Unix seconds), the model.</summary>
internal sealed record CompletionIdentity(string Id, long Created, string Model);

/// <summary>
/// One of the two OpenAI answer shapes over a generation: a whole answer, or a stream of chunks (an optional opening
/// chunk, a chunk per piece of text, a chunk with the finish reason, an optional usage chunk).
/// </summary>
internal interface ICompletionShape
{
    string IdPrefix { get; }

    Task WriteWholeAsync(HttpResponse response, CompletionIdentity identity, string text, string finishReason, Usage usage);

    void WriteOpening(ServerSentEvents events, CompletionIdentity identity);

    void WritePiece(ServerSentEvents events, CompletionIdentity identity, string text);

    void WriteFinish(ServerSentEvents events, CompletionIdentity identity, string finishReason);

    void WriteUsage(ServerSentEvents events, CompletionIdentity identity, Usage usage);
}
