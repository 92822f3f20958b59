using Microsoft.AspNetCore.Http;

namespace EdgeRuntime.Http;

/// <summary>/v1/chat/completions: chat.completion, or chat.completion.chunk whose first delta carries the role.</summary>
internal sealed class ChatShape : ICompletionShape
{
    public static ChatShape Instance { get; } = new();

    public string IdPrefix => "chatcmpl-";

    public Task WriteWholeAsync(HttpResponse response, CompletionIdentity identity, string text, string finishReason, Usage usage) =>
        JsonBodies.WriteAsync(
            response,
            StatusCodes.Status200OK,
            new ChatCompletion(identity.Id, identity.Created, identity.Model, [new ChatChoice(0, new AssistantMessage(text), finishReason)], usage),
            OpenAiJsonContext.Default.ChatCompletion);

    // Sent before the first token, as OpenAI does: the client knows the answer has begun while the prompt is prefilled.
    public void WriteOpening(ServerSentEvents events, CompletionIdentity identity) =>
        Write(events, identity, new ChatDelta { Role = "assistant", Content = "" }, null);

    public void WritePiece(ServerSentEvents events, CompletionIdentity identity, string text) =>
        Write(events, identity, new ChatDelta { Content = text }, null);

    public void WriteFinish(ServerSentEvents events, CompletionIdentity identity, string finishReason) =>
        Write(events, identity, new ChatDelta(), finishReason);

    public void WriteUsage(ServerSentEvents events, CompletionIdentity identity, Usage usage) =>
        events.Write(new ChatCompletionChunk(identity.Id, identity.Created, identity.Model, []) { Usage = usage }, OpenAiJsonContext.Default.ChatCompletionChunk);

    private static void Write(ServerSentEvents events, CompletionIdentity identity, ChatDelta delta, string? finishReason) =>
        events.Write(new ChatCompletionChunk(identity.Id, identity.Created, identity.Model, [new ChatChunkChoice(0, delta, finishReason)]), OpenAiJsonContext.Default.ChatCompletionChunk);
}
