namespace EdgeRuntime.Sensors.Replay;

/// <summary>
/// Releases replayed frames at the recording's pace: frame n is due n/rate seconds after the start, so a slow
/// consumer or a late timer never makes the stream drift, only deliver a little late. With pacing off it does not wait.
/// The returned timestamp is when the block's last sample was due, not when the timer woke: blocks released together
/// after a stall still cover consecutive spans of time, as a capture device's buffered samples do.
/// </summary>
internal sealed class ReplayPacer(double framesPerSecond, bool realtime, TimeProvider time)
{
    private readonly long _start = time.GetTimestamp();
    private long _frames;

    public async ValueTask<long> WaitAsync(long frames, CancellationToken cancellationToken)
    {
        _frames += frames;
        if (!realtime)
        {
            cancellationToken.ThrowIfCancellationRequested();
            return time.GetTimestamp();
        }

        var due = TimeSpan.FromSeconds(_frames / framesPerSecond);
        var wait = due - time.GetElapsedTime(_start);
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, time, cancellationToken).ConfigureAwait(false);
        }

        return _start + (long)(due.TotalSeconds * time.TimestampFrequency);
    }
}
