namespace EdgeRuntime.Client;

/// <summary>How an <see cref="EdgeClient"/> hands responses back to the code that awaits them.</summary>
public sealed record EdgeClientOptions
{
    public static readonly EdgeClientOptions Default = new();

    /// <summary>
    /// When true (the default), the code after <c>await client.InferAsync(...)</c> runs on the client's receive thread
    /// as soon as the response is parsed: no thread hand-off, the lowest latency. That code must not block waiting
    /// for another response of the same client (for example with <c>.Result</c>); it would wait for itself. Set
    /// false to resume on the thread pool instead, at the cost of one hand-off per response.
    /// </summary>
    public bool InlineContinuations { get; init; } = true;

    /// <summary>
    /// The most the receive thread polls for the daemon's answer before it sleeps in the kernel. Waking a sleeping
    /// thread costs tens of microseconds on small or virtualised cores. The poll adapts: it lasts up to twice the
    /// usual answer time and stops altogether when answers usually take longer than this cap, and it yields the
    /// core to anything runnable (see <see cref="Transport.ReceiveSpinPolicy"/>). Zero sleeps at once.
    /// </summary>
    public TimeSpan SpinBeforeBlock { get; init; } = TimeSpan.FromMicroseconds(500);

    /// <summary>
    /// The most tokens of one generation held unread. Tokens are taken off the socket as they arrive (so a slow
    /// reader never holds up the connection's other answers); this caps what that costs, about 150 bytes a token.
    /// A reader that falls further behind than this loses the generation: it is cancelled and its enumeration fails
    /// with <c>stream_overrun</c>. One turn cannot produce more tokens than the model's context holds, so the default
    /// is only reached by a reader that does not read at all.
    /// </summary>
    public int MaxBufferedTokens
    {
        get;
        init => field = value > 0 ? value : throw new ArgumentOutOfRangeException(nameof(MaxBufferedTokens), value, "At least one token must fit.");
    } = 8192;
}
