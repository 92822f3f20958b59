namespace EdgeRuntime.Server;

/// <summary>
/// A pool of bytes shared by all connections: a request's payload must be granted from it before it is copied out of
/// the socket, and gives it back when answered. Waiters are served first come, first served; while one waits, its
/// connection reads nothing more, so a flood of large requests slows senders down instead of growing the daemon.
/// </summary>
public sealed class ByteBudget(long capacity)
{
    private readonly Queue<(long Bytes, TaskCompletionSource Granted)> _waiters = new();
    private readonly Lock _gate = new();
    private long _available = capacity;

    public long Capacity { get; } = capacity;

    public long Available
    {
        get
        {
            lock (_gate)
            {
                return _available;
            }
        }
    }

    /// <summary>Waits until <paramref name="bytes"/> (at most <see cref="Capacity"/>) can be granted.</summary>
    public Task AcquireAsync(long bytes, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(bytes, Capacity);
        TaskCompletionSource granted;
        lock (_gate)
        {
            if (_waiters.Count == 0 && _available >= bytes)
            {
                _available -= bytes;
                return Task.CompletedTask;
            }

            granted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Enqueue((bytes, granted));
        }

        return WaitAsync(bytes, granted, cancellationToken);
    }

    public void Release(long bytes)
    {
        var wake = new List<TaskCompletionSource>();
        lock (_gate)
        {
            _available += bytes;
            while (_waiters.TryPeek(out var next) && (next.Granted.Task.IsCompleted || _available >= next.Bytes))
            {
                _waiters.Dequeue();
                if (!next.Granted.Task.IsCompleted)
                {
                    _available -= next.Bytes;
                    wake.Add(next.Granted);
                }
            }
        }

        foreach (var granted in wake)
        {
            granted.TrySetResult();
        }
    }

    private async Task WaitAsync(long bytes, TaskCompletionSource granted, CancellationToken cancellationToken)
    {
        try
        {
            await granted.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Cancelled while queued: if the grant raced in meanwhile, hand the bytes back.
            if (!granted.TrySetCanceled(cancellationToken))
            {
                Release(bytes);
            }

            throw;
        }
    }
}
