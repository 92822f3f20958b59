using System.Diagnostics;

namespace EdgeRuntime.Pipelines;

/// <summary>
/// The time a pipeline run senses by. Replay sources wait on it for the moment each block would have been sensed;
/// every timestamp on the timeline is read from it, in milliseconds from the run's start.
/// </summary>
public interface IPipelineClock
{
    double NowMs { get; }

    /// <summary>Wall time at the sensors' real pace: what the latency table was profiled under, so runs on it may tune it.</summary>
    bool IsWallTime => false;

    /// <summary>Returns once the clock has reached <paramref name="ms"/> (at once when it already has).</summary>
    ValueTask DelayUntilAsync(double ms, CancellationToken cancellationToken);
}

/// <summary>Wall time: replayed input arrives at its recorded rate, as from a live sensor.</summary>
public sealed class RealtimeClock : IPipelineClock
{
    private readonly long _start = Stopwatch.GetTimestamp();

    public double NowMs => Stopwatch.GetElapsedTime(_start).TotalMilliseconds;

    public bool IsWallTime => true;

    public async ValueTask DelayUntilAsync(double ms, CancellationToken cancellationToken)
    {
        // Task.Delay wakes up to a timer tick late; sleep to about 1 ms before and yield-wait the rest, so a block's
        // sensing time is within a fraction of a millisecond of its due time.
        double remaining = ms - NowMs;
        if (remaining > 1.5)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(remaining - 1.2), cancellationToken).ConfigureAwait(false);
        }

        while (NowMs < ms)
        {
            cancellationToken.ThrowIfCancellationRequested();
            await Task.Yield();
        }
    }
}

/// <summary>
/// No waiting: every block is available at once, and everything is stamped with wall time since the start, so the
/// post-sensing latency is the compute that follows the last unit's release. For accuracy runs over a whole test set.
/// </summary>
public sealed class FastClock : IPipelineClock
{
    private readonly long _start = Stopwatch.GetTimestamp();

    public double NowMs => Stopwatch.GetElapsedTime(_start).TotalMilliseconds;

    public ValueTask DelayUntilAsync(double ms, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// A clock that moves only when told to (<see cref="AdvanceTo"/>), so a test can stop the world between two units and
/// look at what has been sensed and encoded. Compute takes no simulated time.
/// </summary>
public sealed class SimulatedClock : IPipelineClock
{
    private readonly Lock _gate = new();
    private readonly List<(double Due, TaskCompletionSource Done)> _waiters = [];
    private double _now;

    public double NowMs
    {
        get
        {
            lock (_gate)
            {
                return _now;
            }
        }
    }

    public ValueTask DelayUntilAsync(double ms, CancellationToken cancellationToken)
    {
        TaskCompletionSource done;
        lock (_gate)
        {
            if (ms <= _now)
            {
                return ValueTask.CompletedTask;
            }

            done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((ms, done));
        }

        return new ValueTask(done.Task.WaitAsync(cancellationToken));
    }

    public void AdvanceTo(double ms)
    {
        List<TaskCompletionSource> due = [];
        lock (_gate)
        {
            _now = Math.Max(_now, ms);
            for (int i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Due <= _now)
                {
                    due.Add(_waiters[i].Done);
                    _waiters.RemoveAt(i);
                }
            }
        }

        foreach (var waiter in due)
        {
            waiter.TrySetResult();
        }
    }
}

public static class PipelineClocks
{
    /// <summary>A fresh clock for one run: "realtime" or "fast" (a simulated clock is for tests, made by them).</summary>
    public static IPipelineClock Create(string name) => name switch
    {
        "realtime" => new RealtimeClock(),
        "fast" => new FastClock(),
        _ => throw new EdgeRuntime.Protocol.EdgeRuntimeException(EdgeRuntime.Protocol.ErrorCodes.BadRequest, $"clock is 'realtime' or 'fast', not '{name}'."),
    };
}
