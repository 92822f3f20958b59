namespace EdgeRuntime.Inference.Batching;

/// <summary>
/// A turn one holder has at a time, handed to waiters in the order they came, whether they block a thread or await.
/// </summary>
/// <remarks>
/// SemaphoreSlim serves blocked Wait callers before async ones, so a batch led from a pool thread could be overtaken
/// for ever by batches led from connection threads; blocking on its WaitAsync task instead keeps the order but wakes
/// the thread through a thread-pool hop (in build.ps1 bench's batched MLP case, edged's CPU per request rose from 94 to
/// 132 µs). Here a blocked waiter is woken directly by the holder that leaves.
/// </remarks>
public sealed class FairTurn
{
    private readonly Lock _gate = new();
    private readonly Queue<Waiter> _waiting = new();
    private bool _held;

    /// <summary>Waiters queued for the turn (cancelled ones until the turn passes them).</summary>
    public int Waiting
    {
        get
        {
            lock (_gate)
            {
                return _waiting.Count;
            }
        }
    }

    /// <summary>Takes the turn, blocking the calling thread or not; only <paramref name="cancellationToken"/> ends the wait.</summary>
    /// <exception cref="OperationCanceledException">Cancelled before the turn came.</exception>
    public ValueTask EnterAsync(bool blockThread, CancellationToken cancellationToken)
    {
        Waiter waiter;
        lock (_gate)
        {
            if (!_held)
            {
                _held = true;
                return ValueTask.CompletedTask;
            }

            waiter = new Waiter(blockThread);
            _waiting.Enqueue(waiter);
        }

        if (blockThread)
        {
            waiter.Block(cancellationToken);
            return ValueTask.CompletedTask;
        }

        return new ValueTask(waiter.AwaitAsync(cancellationToken));
    }

    /// <summary>Gives the turn to the longest waiter still waiting, or frees it.</summary>
    public void Exit()
    {
        while (true)
        {
            Waiter? next;
            lock (_gate)
            {
                if (!_waiting.TryDequeue(out next))
                {
                    _held = false;
                    return;
                }
            }

            if (next.TryGrant())
            {
                return;
            }

            // That waiter was cancelled meanwhile: the turn goes on down the queue.
        }
    }

    private sealed class Waiter(bool blockThread)
    {
        private const int Waiting = 0, Granted = 1, Cancelled = 2;
        private readonly ManualResetEventSlim? _event = blockThread ? new() : null;
        private readonly TaskCompletionSource? _completion = blockThread ? null : new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _state;

        public bool TryGrant()
        {
            if (Interlocked.CompareExchange(ref _state, Granted, Waiting) != Waiting)
            {
                return false;
            }

            _event?.Set();
            _completion?.TrySetResult();
            return true;
        }

        public void Block(CancellationToken cancellationToken)
        {
            try
            {
                _event!.Wait(cancellationToken);
            }
            catch (OperationCanceledException) when (!TryCancel())
            {
                // Granted as the wait was cancelled: the turn is ours and must be used (and left) as usual. (The event
                // is not disposed: the granter may still be setting it. It holds no kernel handle.)
            }
        }

        public async Task AwaitAsync(CancellationToken cancellationToken)
        {
            using (cancellationToken.Register(() =>
            {
                if (TryCancel())
                {
                    _completion!.TrySetCanceled(cancellationToken);
                }
            }))
            {
                await _completion!.Task.ConfigureAwait(false);
            }
        }

        private bool TryCancel() => Interlocked.CompareExchange(ref _state, Cancelled, Waiting) == Waiting;
    }
}
