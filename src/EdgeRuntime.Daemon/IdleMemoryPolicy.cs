namespace EdgeRuntime.Daemon;

/// <summary>
/// When to give memory back: once the daemon has gone quiet after work, and once more a minute later. A burst of
/// requests leaves the managed heap grown, pooled buffers held (the shared ArrayPool keeps an array per size per
/// thread and per core, and only lets go of arrays unused for a minute, and only at a full collection) and freed
/// native memory in malloc's arenas; an idle daemon runs no collection, so none of it would ever be returned.
/// Quiet means the process allocated less than <see cref="QuietBytesPerSecond"/> over the last poll: a daemon that
/// serves anything (socket, HTTP, triggers, pipelines) allocates far more than that, an idle one almost nothing.
/// </summary>
internal sealed class IdleMemoryPolicy(TimeSpan quietFor)
{
    /// <summary>Allocation below this rate counts as idle (timers and sensor polls stay well under it).</summary>
    public const long QuietBytesPerSecond = 256 * 1024;

    /// <summary>The shared ArrayPool lets go of arrays unused for 60 s; the second trim comes after that.</summary>
    public static readonly TimeSpan PoolAge = TimeSpan.FromSeconds(65);

    private long _lastAllocated = -1;
    private TimeSpan _lastPoll;
    private TimeSpan _quietSince;
    private bool _workSinceTrim;
    private TimeSpan? _lateTrimAt;

    public TimeSpan QuietFor { get; } = quietFor;

    /// <summary>
    /// Called on every poll with the time and the process's total allocated bytes; true when memory should be
    /// trimmed now.
    /// </summary>
    public bool ShouldTrim(TimeSpan now, long allocatedBytes)
    {
        if (_lastAllocated < 0)
        {
            (_lastAllocated, _lastPoll, _quietSince) = (allocatedBytes, now, now);
            return false;
        }

        double seconds = Math.Max((now - _lastPoll).TotalSeconds, 1e-3);
        bool busy = (allocatedBytes - _lastAllocated) / seconds > QuietBytesPerSecond;
        (_lastAllocated, _lastPoll) = (allocatedBytes, now);
        if (busy)
        {
            _workSinceTrim = true;
            _quietSince = now;
            _lateTrimAt = null;
            return false;
        }

        if (_workSinceTrim && now - _quietSince >= QuietFor)
        {
            _workSinceTrim = false;
            _lateTrimAt = now + PoolAge;
            return true;
        }

        if (_lateTrimAt is { } late && now >= late)
        {
            _lateTrimAt = null;
            return true;
        }

        return false;
    }
}
