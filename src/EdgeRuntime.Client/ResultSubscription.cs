using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Threading.Channels;
using EdgeRuntime.Protocol;
using EdgeRuntime.Formats;

namespace EdgeRuntime.Client;

/// <summary>
/// A live subscription to stored results. Results arrive in id order; remember the last id processed and pass it as
/// <c>since</c> to resume after a restart of either side without gaps or duplicates.
/// </summary>
public sealed class ResultSubscription : IAsyncDisposable
{
    private readonly EdgeClient _client;
    private readonly ulong _requestId;
    private readonly ChannelReader<ReceivedFrame> _events;

    internal ResultSubscription(EdgeClient client, ulong requestId, SubscribeResponse acknowledgement, ChannelReader<ReceivedFrame> events)
    {
        _client = client;
        _requestId = requestId;
        Acknowledgement = acknowledgement;
        _events = events;
    }

    /// <summary>The store's first and last ids when the subscription began.</summary>
    public SubscribeResponse Acknowledgement { get; }

    /// <summary>The next result; throws the connection's error if it breaks, ChannelClosedException once unsubscribed.</summary>
    public async ValueTask<StoredResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            return Parse(await _events.ReadAsync(cancellationToken).ConfigureAwait(false));
        }
        catch (ChannelClosedException closed) when (closed.InnerException is EdgeRuntimeException error)
        {
            // A channel completed with an error wraps it on ReadAsync (ReadAllAsync throws it bare): unwrap, so a
            // broken connection or the daemon's error reaches the caller with its code, as ReadAllAsync's does.
            ExceptionDispatchInfo.Throw(error);
            throw;
        }
    }

    public async IAsyncEnumerable<StoredResult> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var frame in _events.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return Parse(frame);
        }
    }

    private static StoredResult Parse(ReceivedFrame frame)
    {
        var result = ProtocolJson.Deserialize(frame.Json, ProtocolJsonContext.Default.ResultEvent);
        return new StoredResult(result, EdgeClient.ReadTensors(result.Outputs, frame.Payload));
    }

    public async ValueTask DisposeAsync() => await _client.UnsubscribeAsync(_requestId).ConfigureAwait(false);
}

/// <summary>One stored result: what fired, when, the timing, and the output tensors.</summary>
public sealed record StoredResult(ResultEvent Event, IReadOnlyList<Tensor> Outputs)
{
    public Tensor this[string name] => Outputs.FirstOrDefault(o => o.Name == name)
        ?? throw new KeyNotFoundException($"No output named '{name}'; outputs: {string.Join(", ", Outputs.Select(o => o.Name))}.");
}
