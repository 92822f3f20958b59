namespace EdgeRuntime.Protocol;

// The JSON headers of generate, token and cancel (docs/protocol.md, "Language models").

/// <summary>
/// Generate text. Exactly one of <see cref="Prompt"/> (raw text, tokenized as is) or <see cref="Messages"/> (a chat,
/// rendered with the model family's template) is given. With <see cref="Session"/> the turn continues a kept session
/// (only the new text is prefilled); with <see cref="Keep"/> the daemon keeps this turn's state and returns its id.
/// </summary>
public sealed record GenerateRequest(string Model)
{
    public string? Prompt { get; init; }

    public ChatMessage[]? Messages { get; init; }

    public string? Session { get; init; }

    public bool Keep { get; init; }

    public int? MaxTokens { get; init; }

    public SamplingSpec? Sampling { get; init; }

    /// <summary>Text that ends the generation when it appears; it is not sent.</summary>
    public string[]? Stop { get; init; }

    /// <summary>Token ids that end the generation, besides the model's own end-of-sequence tokens.</summary>
    public int[]? StopTokenIds { get; init; }

    /// <summary>
    /// For a vision-language model: an image in the frame's payload, uint8 (0-255) or float32 (0-1), shaped [height,
    /// width], [channels, height, width] or [1, channels, height, width] as the model's <c>vision</c> info says. It goes
    /// before the prompt, so it may only start a session (not continue one).
    /// </summary>
    public TensorDescriptor? Image { get; init; }
}

public sealed record ChatMessage(string Role, string Content);

/// <summary>Sampling options; null fields take the defaults (greedy when temperature is 0 or absent).</summary>
public sealed record SamplingSpec
{
    public float? Temperature { get; init; }

    public int? TopK { get; init; }

    public float? TopP { get; init; }

    public float? MinP { get; init; }

    public float? RepetitionPenalty { get; init; }

    public ulong? Seed { get; init; }
}

/// <summary>
/// One <see cref="MessageType.Token"/> frame: the token's index in this turn, its id, the text it completes (empty
/// while a multi-byte character is still split across tokens) and microseconds since the request was received.
/// </summary>
public sealed record TokenEvent(int Index, int Id, string Text, double AtUs)
{
    /// <summary>
    /// When the token was sampled on the daemon's monotonic clock (Linux CLOCK_MONOTONIC, the clock behind
    /// <c>Stopwatch.GetTimestamp</c>), in microseconds: a client on the same machine reads the same clock, so its own
    /// reading on arrival minus this is the token's time in transit.
    /// </summary>
    public double? ClockUs { get; init; }
}

/// <summary>The final answer to a generate request, after its last token frame.</summary>
public sealed record GenerateResponse(
    string Model,
    string StopReason,
    int PromptTokens,
    int GeneratedTokens,
    double TimeToFirstTokenMs,
    double PrefillTokensPerSecond,
    double DecodeTokensPerSecond,
    double TotalMs)
{
    /// <summary>The kept session's id (with keep, or when the request continued one); null otherwise.</summary>
    public string? Session { get; init; }

    /// <summary>Tokens of earlier turns already in the session's cache, not prefilled again.</summary>
    public int CachedTokens { get; init; }

    /// <summary>Positions the session now holds, and the most it can hold.</summary>
    public int ContextUsed { get; init; }

    public int ContextLength { get; init; }
}

/// <summary>Why a generation ended: the wire values of <see cref="GenerateResponse.StopReason"/>.</summary>
public static class StopReasons
{
    public const string EndOfSequence = "eos";
    public const string StopToken = "stop_token";
    public const string StopString = "stop_string";
    public const string MaxTokens = "max_tokens";
    public const string ContextFull = "context_full";
    public const string Cancelled = "cancelled";
}

public sealed record CancelRequest(ulong RequestId);

public sealed record CancelResponse(ulong RequestId, bool Cancelled);
