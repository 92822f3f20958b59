using System.Diagnostics;

namespace EdgeRuntime.Sensors.Replay;

/// <summary>
/// Releases replayed frames at the recording's pace: frame n is due n/rate seconds after the start, so a slow
/// consumer or a late timer never makes the stream drift, only deliver a little late. With pacing off it does not wait.
/// </summary>
internal sealed class ReplayPacer(double framesPerSecond, bool realtime)
{
    private readonly long _start = Stopwatch.GetTimestamp();
    private long _frames;

    public async ValueTask WaitAsync(long frames, CancellationToken cancellationToken)
    {
        _frames += frames;
        if (!realtime)
        {
            cancellationToken.ThrowIfCancellationRequested();
            return;
        }

        var due = TimeSpan.FromSeconds(_frames / framesPerSecond);
        var wait = due - Stopwatch.GetElapsedTime(_start);
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
        }
    }
}
