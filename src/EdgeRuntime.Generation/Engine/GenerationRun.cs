using System.Diagnostics;
using System.Threading.Channels;
using EdgeRuntime.Generation.Sampling;
using EdgeRuntime.Generation.Tokenization;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Generation.Engine;

/// <summary>
/// One generate request in flight: its tokens as they are produced, then its summary. The reader of
/// <see cref="Tokens"/> is the socket (or a test); the engine writes, at most maxTokens events.
/// </summary>
public sealed class GenerationRun
{
    private readonly Channel<TokenEvent> _tokens = Channel.CreateUnbounded<TokenEvent>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly TaskCompletionSource<GenerateResponse> _summary = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly long _started = Stopwatch.GetTimestamp();
    private long _firstToken;
    private long _lastToken;
    private long _prefillStarted;
    private long _prefillEnded;
    private volatile bool _cancelled;

    internal GenerationRun(string model, IReadOnlyList<int> promptTokens, int maxTokens, Sampler sampler, StopConditions stop, TokenTextStream text, ChatSession session, int cachedTokens)
    {
        Model = model;
        PromptTokens = promptTokens;
        MaxTokens = maxTokens;
        Sampler = sampler;
        Stop = stop;
        Text = text;
        Session = session;
        CachedTokens = cachedTokens;
    }

    /// <summary>Token events in order; completes when the generation ends (or faults with its error).</summary>
    public ChannelReader<TokenEvent> Tokens => _tokens.Reader;

    /// <summary>The summary, once the last token has been written to <see cref="Tokens"/>.</summary>
    public Task<GenerateResponse> Summary => _summary.Task;

    internal string Model { get; }

    /// <summary>Tokens still to prefill (the session's pending token first, then the new prompt).</summary>
    internal IReadOnlyList<int> PromptTokens { get; }

    internal int Prefilled { get; set; }

    /// <summary>A vision-language request's image embeddings [imageTokens · hidden], which go before the prompt's first token; null without an image.</summary>
    internal float[]? ImagePrefix { get; init; }

    internal int MaxTokens { get; }

    internal int Generated { get; private set; }

    internal Sampler Sampler { get; }

    internal StopConditions Stop { get; }

    internal TokenTextStream Text { get; }

    internal ChatSession Session { get; }

    internal int CachedTokens { get; }

    internal bool Cancelled => _cancelled;

    internal bool PrefillDone => Prefilled == PromptTokens.Count;

    /// <summary>Asks the engine to stop this run at its next step; the summary says "cancelled".</summary>
    public void Cancel() => _cancelled = true;

    internal void PrefillStep(long started, long ended)
    {
        if (_prefillStarted == 0)
        {
            _prefillStarted = started;
        }

        _prefillEnded = ended;
    }

    internal void Emit(int id, string text)
    {
        long now = Stopwatch.GetTimestamp();
        if (Generated == 0)
        {
            _firstToken = now;
        }

        _lastToken = now;
        _tokens.Writer.TryWrite(new TokenEvent(Generated++, id, text, Stopwatch.GetElapsedTime(_started, now).TotalMicroseconds)
        {
            ClockUs = now * (1e6 / Stopwatch.Frequency),
        });
    }

    internal void Complete(string stopReason, int contextUsed, int contextLength, string? keptSession)
    {
        long end = Stopwatch.GetTimestamp();
        double prefillSeconds = _prefillEnded > _prefillStarted ? Stopwatch.GetElapsedTime(_prefillStarted, _prefillEnded).TotalSeconds : 0;
        double decodeSeconds = Generated > 1 ? Stopwatch.GetElapsedTime(_firstToken, _lastToken).TotalSeconds : 0;
        var summary = new GenerateResponse(
            Model,
            stopReason,
            PromptTokens.Count,
            Generated,
            Generated > 0 ? Stopwatch.GetElapsedTime(_started, _firstToken).TotalMilliseconds : 0,
            prefillSeconds > 0 ? PromptTokens.Count / prefillSeconds : 0,
            decodeSeconds > 0 ? (Generated - 1) / decodeSeconds : 0,
            Stopwatch.GetElapsedTime(_started, end).TotalMilliseconds)
        {
            Session = keptSession,
            CachedTokens = CachedTokens,
            ContextUsed = contextUsed,
            ContextLength = contextLength,
        };
        _tokens.Writer.TryComplete();
        _summary.TrySetResult(summary);
    }

    internal void Fail(Exception error)
    {
        _tokens.Writer.TryComplete(error);
        _summary.TrySetException(error);
    }
}
