namespace EdgeRuntime.Sensors.Replay;

/// <summary>
/// Releases replayed frames at the recording's pace: frame n is due n/rate seconds after the start, so a slow
/// consumer or a late timer never makes the stream drift, only deliver a little late. With pacing off it does not wait.
/// The returned timestamp is when the block's last sample was due, not when the timer woke: blocks released together
/// after a stall still cover consecutive spans of time, as a capture device's buffered samples do.
/// On the system clock a block is released within a fraction of a millisecond of its due time, as a capture device
/// hands over a period when it completes: a timer sleeps whole milliseconds and wakes late, so it sleeps to half a
/// millisecond before and yield-waits the rest (as the pipelines' real-time replay clock does), about a millisecond of
/// CPU per block. Otherwise a live run's post-sensing latency would measure the timer, not the pipeline.
/// </summary>
internal sealed class ReplayPacer(double framesPerSecond, bool realtime, TimeProvider time)
{
    private readonly long _start = time.GetTimestamp();
    private static readonly TimeSpan Early = TimeSpan.FromMilliseconds(0.5);
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
        bool precise = time == TimeProvider.System;
        if (precise && wait > Early)
        {
            await Task.Delay(wait - Early, time, cancellationToken).ConfigureAwait(false);
        }
        else if (!precise && wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, time, cancellationToken).ConfigureAwait(false);
        }

        while (precise && time.GetElapsedTime(_start) < due)
        {
            cancellationToken.ThrowIfCancellationRequested();
            await Task.Yield();
        }

        return _start + (long)(due.TotalSeconds * time.TimestampFrequency);
    }
}
