using System.Runtime.CompilerServices;
using System.Threading.Channels;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Client;

/// <summary>
/// One generate request in flight (<see cref="EdgeClient.GenerateAsync"/>). Enumerate it, once, for the tokens as
/// the daemon produces them; the enumeration ends after the last token, and <see cref="Summary"/> then holds the
/// daemon's final answer. An error from the daemon (which may follow some tokens) or a lost connection is raised by
/// the enumeration and by <see cref="Summary"/> as <see cref="EdgeRuntimeException"/>.
/// </summary>
/// <remarks>
/// Stopping early, by <c>break</c>, an exception in the loop body, cancelling either token or disposing the stream,
/// sends <c>cancel</c> for <see cref="RequestId"/> and then waits for the daemon to end the stream, so that a kept
/// session can take its next turn at once (the daemon runs one turn per session at a time). <see cref="Summary"/>
/// then holds the daemon's final answer with stop reason <c>cancelled</c>. To stop the daemon but still read what it
/// sent up to then, call <see cref="CancelAsync"/> and carry on enumerating.
/// </remarks>
public sealed class GenerationStream : IAsyncEnumerable<TokenEvent>, IAsyncDisposable
{
    private readonly EdgeClient _client;
    private readonly Channel<byte[]> _tokens;
    private readonly TaskCompletionSource<GenerateResponse> _summary = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly int _maxBufferedTokens;

    // Guards the token registration, which the receive thread and the caller's threads share.
    private readonly Lock _registrationGate = new();
    private CancellationToken _requestCancellation;
    private CancellationTokenRegistration _registration;
    private Task? _cancelling;
    private int _enumerated;

    // Set once nobody will read the tokens (overrun, or the reader stopped early): the receive thread drops them.
    private volatile bool _discardTokens;

    internal GenerationStream(EdgeClient client, ulong requestId, int maxBufferedTokens)
    {
        _client = client;
        RequestId = requestId;
        _maxBufferedTokens = maxBufferedTokens;

        // Never full in practice (see EdgeClientOptions.MaxBufferedTokens); when it is, the receive thread must not
        // wait, or every other answer on the connection would wait with it: it gives the generation up instead.
        _tokens = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(maxBufferedTokens)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    /// <summary>The generate's request id on this connection: the id <c>cancel</c> names.</summary>
    public ulong RequestId { get; }

    /// <summary>
    /// The daemon's final answer: stop reason, token counts, timings, the kept session. Completes when the daemon ends
    /// the stream (after the last token is received, whether or not it has been read); faults as the stream does.
    /// </summary>
    public Task<GenerateResponse> Summary => _summary.Task;

    public IAsyncEnumerator<TokenEvent> GetAsyncEnumerator(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _enumerated, 1) != 0)
        {
            throw new InvalidOperationException("A generation's tokens can be enumerated once.");
        }

        return ReadTokensAsync(cancellationToken).GetAsyncEnumerator(CancellationToken.None);
    }

    /// <summary>
    /// <c>await foreach (var token in stream.ConfigureAwait(false))</c>. Declared here because the stream is both an
    /// async enumerable and async disposable, for which the framework's two ConfigureAwait extensions are ambiguous.
    /// </summary>
    public ConfiguredCancelableAsyncEnumerable<TokenEvent> ConfigureAwait(bool continueOnCapturedContext) =>
        TaskAsyncEnumerableExtensions.ConfigureAwait<TokenEvent>(this, continueOnCapturedContext);

    /// <summary>
    /// Asks the daemon to stop this generation. Completes once the daemon has acknowledged (not when the stream has
    /// ended): tokens already on their way still arrive, then the final answer with stop reason <c>cancelled</c>.
    /// Safe to call more than once, from any thread, and after the stream ended; it does not throw when the
    /// connection is gone (the stream then fails by itself).
    /// </summary>
    public Task CancelAsync()
    {
        if (Volatile.Read(ref _cancelling) is { } started)
        {
            return started;
        }

        if (_summary.Task.IsCompleted)
        {
            return Task.CompletedTask;
        }

        // Claimed before sending, and the send made outside any lock: the receive thread takes the registration lock,
        // and must never wait behind a send that waits for the daemon to read.
        var acknowledged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (Interlocked.CompareExchange(ref _cancelling, acknowledged.Task, null) is { } other)
        {
            return other;
        }

        _ = SendCancelAsync(acknowledged);
        return acknowledged.Task;
    }

    /// <summary>Stops the generation if it is still running and waits for the daemon to end it; never throws.</summary>
    public async ValueTask DisposeAsync() => await StopReadingAsync().ConfigureAwait(false);

    /// <summary>Cancels at the daemon when <paramref name="cancellationToken"/> is; its enumeration observes it too.</summary>
    internal void CancelWhen(CancellationToken cancellationToken)
    {
        _requestCancellation = cancellationToken;

        // Runs at once if the token is already cancelled: the request is out, so the daemon must hear of it.
        var registration = cancellationToken.UnsafeRegister(static state => _ = ((GenerationStream)state!).CancelAsync(), this);
        lock (_registrationGate)
        {
            // The whole answer may already be in: a long-lived token must not keep a finished stream alive.
            if (_summary.Task.IsCompleted)
            {
                registration.Unregister();
            }
            else
            {
                _registration = registration;
            }
        }
    }

    /// <summary>
    /// Takes one frame sent under this request's id (on the receive thread, so it never waits). True when the frame
    /// ended the stream and the request id can be forgotten.
    /// </summary>
    internal bool Deliver(ReceivedFrame frame)
    {
        if (frame.Header.IsError)
        {
            var error = ProtocolJson.Deserialize(frame.Json, ProtocolJsonContext.Default.ErrorResponse);
            Fail(new EdgeRuntimeException(error.Code, error.Message));
            return true;
        }

        if (frame.Header.Type == MessageType.Token)
        {
            if (!_discardTokens && !_tokens.Writer.TryWrite(frame.Json))
            {
                Overrun();
            }

            return false;
        }

        if (frame.Header.Type != MessageType.Generate)
        {
            return false;
        }

        GenerateResponse summary;
        try
        {
            summary = ProtocolJson.Deserialize(frame.Json, ProtocolJsonContext.Default.GenerateResponse);
        }
        catch (EdgeRuntimeException e)
        {
            Fail(e);
            return true;
        }

        // Summary first: a reader that sees the tokens end must find the stream ended, or it would cancel it.
        _summary.TrySetResult(summary);
        _tokens.Writer.TryComplete();
        Unregister();
        return true;
    }

    /// <summary>Ends the stream with <paramref name="error"/>: the daemon's error, or the connection's failure.</summary>
    internal void Fail(Exception error)
    {
        if (_summary.TrySetException(error))
        {
            // Reading the exception marks it observed: a caller who only enumerates (and so saw the error there) must
            // not get an UnobservedTaskException later for Summary.
            _ = _summary.Task.Exception;
        }

        _tokens.Writer.TryComplete(error);
        Unregister();
    }

    private async IAsyncEnumerable<TokenEvent> ReadTokensAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _requestCancellation);
        var token = cancellation.Token;
        var reader = _tokens.Reader;
        try
        {
            while (true)
            {
                token.ThrowIfCancellationRequested();
                if (reader.TryRead(out byte[]? json))
                {
                    yield return ProtocolJson.Deserialize(json, ProtocolJsonContext.Default.TokenEvent);
                }
                else if (!await reader.WaitToReadAsync(token).ConfigureAwait(false))
                {
                    // Completed without error: only the final frame does that, so Summary is set.
                    yield break;
                }
            }
        }
        finally
        {
            // Left early (break, an exception in the loop body, cancellation): stop the daemon and wait for its end.
            await StopReadingAsync().ConfigureAwait(false);
        }
    }

    private async Task StopReadingAsync()
    {
        if (_summary.Task.IsCompleted)
        {
            return;
        }

        _discardTokens = true;
        while (_tokens.Reader.TryRead(out _))
        {
        }

        // The end of the stream is what frees the session, not the cancel's acknowledgement (which may even come later).
        _ = CancelAsync();
        await ((Task)_summary.Task).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private void Unregister()
    {
        lock (_registrationGate)
        {
            _registration.Unregister();
        }
    }

    private void Overrun()
    {
        _discardTokens = true;
        _tokens.Writer.TryComplete(new EdgeRuntimeException(
            "stream_overrun",
            $"More than {_maxBufferedTokens} tokens of generate request {RequestId} arrived unread; the generation was cancelled. "
            + "Read tokens as they come, or raise EdgeClientOptions.MaxBufferedTokens."));

        // Off the receive thread: it must go back to reading at once, not wait for a send.
        _ = Task.Run(CancelAsync);
    }

    private async Task SendCancelAsync(TaskCompletionSource acknowledged)
    {
        try
        {
            await _client.CancelAsync(RequestId).ConfigureAwait(false);
        }
        catch (EdgeRuntimeException)
        {
            // The connection is gone (the stream fails with it) or the daemon refused the cancel (one that does not
            // know it finishes the generation anyway): either way the stream still ends.
        }
        finally
        {
            acknowledged.TrySetResult();
        }
    }
}
