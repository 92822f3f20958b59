using Microsoft.AspNetCore.Http;

namespace EdgeRuntime.Http;

/// <summary>/v1/completions: text_completion, whole or one piece of text per chunk.</summary>
internal sealed class TextShape : ICompletionShape
{
    public static TextShape Instance { get; } = new();

    public string IdPrefix => "cmpl-";

    public Task WriteWholeAsync(HttpResponse response, CompletionIdentity identity, string text, string finishReason, Usage usage) =>
        JsonBodies.WriteAsync(
            response,
            StatusCodes.Status200OK,
            new TextCompletion(identity.Id, identity.Created, identity.Model, [new TextChoice(0, text, finishReason)]) { Usage = usage },
            OpenAiJsonContext.Default.TextCompletion);

    public void WriteOpening(ServerSentEvents events, CompletionIdentity identity)
    {
        // A text completion has no role to announce; its first chunk is its first piece of text.
    }

    public void WritePiece(ServerSentEvents events, CompletionIdentity identity, string text) => Write(events, identity, text, null);

    public void WriteFinish(ServerSentEvents events, CompletionIdentity identity, string finishReason) => Write(events, identity, "", finishReason);

    public void WriteUsage(ServerSentEvents events, CompletionIdentity identity, Usage usage) =>
        events.Write(new TextCompletion(identity.Id, identity.Created, identity.Model, []) { Usage = usage }, OpenAiJsonContext.Default.TextCompletion);

    private static void Write(ServerSentEvents events, CompletionIdentity identity, string text, string? finishReason) =>
        events.Write(new TextCompletion(identity.Id, identity.Created, identity.Model, [new TextChoice(0, text, finishReason)]), OpenAiJsonContext.Default.TextCompletion);
}
