namespace EdgeRuntime.Sensors;

/// <summary>
/// A source that can stop capturing while nobody reads it (a camera: no frames taken, converted or buffered). The
/// sensor host pauses an on-demand source when its last live reader lets go and resumes it when one takes hold.
/// </summary>
public interface IPausableSource : ISensorSource
{
    PauseGate Pause { get; }
}

/// <summary>
/// The switch between a pausable source's capture loop and the sensor host. The loop awaits
/// <see cref="WaitWhilePausedAsync"/> before each frame; the host flips it. It also totals the time spent paused, which
/// health reports (a camera paused for s seconds at r frames a second took s·r frames fewer).
/// </summary>
public sealed class PauseGate(TimeProvider time)
{
    private readonly Lock _gate = new();
    private TaskCompletionSource? _resumed;
    private long _pausedSince;
    private TimeSpan _pausedBefore;

    public bool IsPaused
    {
        get
        {
            lock (_gate)
            {
                return _resumed is not null;
            }
        }
    }

    /// <summary>Time spent paused so far, including the pause in progress.</summary>
    public TimeSpan PausedTotal
    {
        get
        {
            lock (_gate)
            {
                return _resumed is null ? _pausedBefore : _pausedBefore + time.GetElapsedTime(_pausedSince);
            }
        }
    }

    public void Close()
    {
        lock (_gate)
        {
            if (_resumed is null)
            {
                _resumed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _pausedSince = time.GetTimestamp();
            }
        }
    }

    public void Open()
    {
        TaskCompletionSource? resumed;
        lock (_gate)
        {
            resumed = _resumed;
            if (resumed is null)
            {
                return;
            }

            _pausedBefore += time.GetElapsedTime(_pausedSince);
            _resumed = null;
        }

        resumed.TrySetResult();
    }

    /// <summary>Returns at once while open; otherwise when opened again, with true: the source should restart its pacing.</summary>
    public async ValueTask<bool> WaitWhilePausedAsync(CancellationToken cancellationToken)
    {
        Task? resumed;
        lock (_gate)
        {
            resumed = _resumed?.Task;
        }

        if (resumed is null)
        {
            return false;
        }

        await resumed.WaitAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }
}
