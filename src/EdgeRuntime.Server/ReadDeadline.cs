using System.Diagnostics;

namespace EdgeRuntime.Server;

/// <summary>
/// The token a connection's next read waits with: the daemon's stop, joined by a timer when a deadline applies (a
/// frame part-way in, or an idle limit). Without a deadline the read waits on the stop token alone, so the common path
/// (whole frames, no idle limit) arms no timer.
/// </summary>
internal sealed class ReadDeadline(CancellationToken stopReading) : IDisposable
{
    private CancellationTokenSource? _timer;
    private bool _armed;

    /// <summary>The token for a read that must end within <paramref name="remaining"/> (infinite: no deadline).</summary>
    public CancellationToken For(TimeSpan remaining)
    {
        if (remaining == Timeout.InfiniteTimeSpan)
        {
            if (_armed)
            {
                _timer!.CancelAfter(Timeout.InfiniteTimeSpan);
                _armed = false;
            }

            return stopReading;
        }

        if (_timer is null || _timer.IsCancellationRequested)
        {
            _timer?.Dispose();
            _timer = CancellationTokenSource.CreateLinkedTokenSource(stopReading);
        }

        _timer.CancelAfter(remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero);
        _armed = true;
        return _timer.Token;
    }

    /// <summary>What is left of <paramref name="limit"/> since <paramref name="since"/> (a Stopwatch timestamp).</summary>
    public static TimeSpan Remaining(TimeSpan limit, long since) => limit - Stopwatch.GetElapsedTime(since);

    public void Dispose() => _timer?.Dispose();
}
