using System.Text.Json;

namespace EdgeRuntime.Http;

// The request bodies of /v1/chat/completions and /v1/completions as OpenAI defines them (snake_case on the wire, see
// OpenAiJsonContext), plus the sampling extensions other local servers also accept (top_k, min_p, repetition_penalty,
// stop_token_ids). Every field is optional here so that RequestMapping, not the JSON reader, says what is missing.
// Fields that take more than one JSON shape (stop, prompt, content) or that edged refuses (tools, logit_bias, ...)
// are read as JsonElement: the mapping decides, and names the field in its error.

/// <summary>What the two completion requests share: the model, the length, sampling, stop conditions, streaming.</summary>
internal abstract record CompletionFields
{
    public string? Model { get; init; }

    public int? MaxTokens { get; init; }

    public float? Temperature { get; init; }

    public float? TopP { get; init; }

    public int? TopK { get; init; }

    public float? MinP { get; init; }

    public float? RepetitionPenalty { get; init; }

    public float? FrequencyPenalty { get; init; }

    public float? PresencePenalty { get; init; }

    public long? Seed { get; init; }

    /// <summary>A string or an array of strings.</summary>
    public JsonElement? Stop { get; init; }

    public int[]? StopTokenIds { get; init; }

    public int? N { get; init; }

    public bool? Stream { get; init; }

    public StreamOptions? StreamOptions { get; init; }

    public JsonElement? LogitBias { get; init; }
}

internal sealed record StreamOptions
{
    /// <summary>Send a last chunk with the token counts (and no choices) before [DONE].</summary>
    public bool? IncludeUsage { get; init; }
}

internal sealed record ChatCompletionRequest : CompletionFields
{
    public ChatMessageBody[]? Messages { get; init; }

    /// <summary>The newer name of max_tokens.</summary>
    public int? MaxCompletionTokens { get; init; }

    public bool? Logprobs { get; init; }

    public int? TopLogprobs { get; init; }

    public JsonElement? Tools { get; init; }

    public JsonElement? ToolChoice { get; init; }

    public JsonElement? Functions { get; init; }

    public JsonElement? FunctionCall { get; init; }

    public JsonElement? ResponseFormat { get; init; }
}

/// <summary>A chat message: content is a string, or an array of parts of which edged reads the text ones.</summary>
internal sealed record ChatMessageBody
{
    public string? Role { get; init; }

    public JsonElement? Content { get; init; }
}

internal sealed record CompletionRequest : CompletionFields
{
    /// <summary>A string, or an array holding one string.</summary>
    public JsonElement? Prompt { get; init; }

    public int? Logprobs { get; init; }

    public bool? Echo { get; init; }

    public string? Suffix { get; init; }

    public int? BestOf { get; init; }
}
