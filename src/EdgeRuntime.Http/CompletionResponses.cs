using System.Text.Json.Serialization;

namespace EdgeRuntime.Http;

// The answers of /v1/chat/completions and /v1/completions in OpenAI's shape, whole and as stream chunks. Null is
// written as null (finish_reason: null in a chunk is part of the shape) except where OpenAI leaves a field out. The
// property orders only put id and object first, as OpenAI writes them, for people reading curl's output.

internal sealed record ChatCompletion([property: JsonPropertyOrder(-2)] string Id, long Created, string Model, ChatChoice[] Choices, Usage Usage)
{
    [JsonPropertyOrder(-1)]
    public string Object => "chat.completion";
}

internal sealed record ChatChoice(int Index, AssistantMessage Message, string FinishReason)
{
    /// <summary>Always null: edged computes no log probabilities (a request for them is refused).</summary>
    public string? Logprobs => null;
}

internal sealed record AssistantMessage(string Content)
{
    [JsonPropertyOrder(-1)]
    public string Role => "assistant";
}

internal sealed record ChatCompletionChunk([property: JsonPropertyOrder(-2)] string Id, long Created, string Model, ChatChunkChoice[] Choices)
{
    [JsonPropertyOrder(-1)]
    public string Object => "chat.completion.chunk";

    /// <summary>Only on the last chunk, when the request asked for stream_options.include_usage.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Usage? Usage { get; init; }
}

internal sealed record ChatChunkChoice(int Index, ChatDelta Delta, string? FinishReason)
{
    /// <summary>Always null: edged computes no log probabilities (a request for them is refused).</summary>
    public string? Logprobs => null;
}

/// <summary>What a chunk adds to the message: the role once, in the first chunk; then pieces of content.</summary>
internal sealed record ChatDelta
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Role { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Content { get; init; }
}

/// <summary>A /v1/completions answer; its stream chunks have the same shape, one piece of text each.</summary>
internal sealed record TextCompletion([property: JsonPropertyOrder(-2)] string Id, long Created, string Model, TextChoice[] Choices)
{
    [JsonPropertyOrder(-1)]
    public string Object => "text_completion";

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Usage? Usage { get; init; }
}

internal sealed record TextChoice(int Index, string Text, string? FinishReason)
{
    /// <summary>Always null: edged computes no log probabilities (a request for them is refused).</summary>
    public string? Logprobs => null;
}

internal sealed record Usage(int PromptTokens, int CompletionTokens)
{
    public int TotalTokens => PromptTokens + CompletionTokens;
}
