using System.Globalization;
using EdgeRuntime.Protocol;
using EdgeRuntime.Sensors;

namespace EdgeRuntime.Pipelines.Live;

/// <summary>
/// The pipelines' view of the daemon's sensors. At load it checks that a sensor fits the encoder it feeds (and names
/// both when not) and makes the sensor keep a ring the runs read from; at run time it opens a reader for each live
/// input at the run's start. Every reader of a sensor reads the one ring the sensor writes, whatever else reads it
/// (triggers' windows, other runs).
/// </summary>
public sealed class LiveSensors(SensorHost host)
{
    /// <summary>The least a ring read live keeps: enough for a run to fall a second behind without losing frames.</summary>
    public const double MinimumRingMs = 1000;

    public TimeProvider Time => host.TimeProvider;

    /// <summary>A mono stream at least as fast as the encoder's rate (a faster one is resampled, a slower one refused).</summary>
    public void CheckAudio(string input, string sensor, int rate, double bufferMs = 0)
    {
        var source = Find(input, sensor);
        var c = CultureInfo.InvariantCulture;
        if (source is ICameraSource || source.Channels.Count != 1 || source.SampleRate <= 0)
        {
            throw new InvalidDataException(string.Create(c, $"{input}: sensor '{sensor}' is a {source.Type} sensor delivering {Describe(source)}; the audio encoder takes one channel of samples at {rate} Hz."));
        }

        if (source.SampleRate < rate)
        {
            throw new InvalidDataException(string.Create(c, $"{input}: sensor '{sensor}' captures at {source.SampleRate:0.##} Hz; the audio encoder takes {rate} Hz (a faster sensor is resampled, a slower one cannot be)."));
        }

        host.EnsureRing(sensor, Math.Max(MinimumRingMs, bufferMs));
    }

    /// <summary>A camera whose frames come at least once per interval (when one is given) and are at least the encoder's size.</summary>
    public void CheckCamera(string input, string sensor, double? intervalMs, int cols, int rows, string encoder, double bufferMs = 0)
    {
        var source = Find(input, sensor);
        var c = CultureInfo.InvariantCulture;
        if (source is not ICameraSource camera)
        {
            throw new InvalidDataException(string.Create(c, $"{input}: sensor '{sensor}' is a {source.Type} sensor delivering {Describe(source)}; the {encoder} takes {cols}x{rows} camera frames."));
        }

        double needed = intervalMs is double interval ? 1000 / interval : 0;
        if (camera.SampleRate < needed * 0.999)
        {
            throw new InvalidDataException(string.Create(c, $"{input}: camera '{sensor}' takes {camera.SampleRate:0.##} frames/s; the {encoder} takes a frame every {intervalMs:0.##} ms ({needed:0.##} frames/s)."));
        }

        if (camera.Width < cols || camera.Height < rows)
        {
            throw new InvalidDataException(string.Create(c, $"{input}: camera '{sensor}' takes {camera.Width}x{camera.Height} frames; the {encoder} takes {cols}x{rows} (frames are shrunk, never enlarged)."));
        }

        host.EnsureRing(sensor, Math.Max(MinimumRingMs, bufferMs));
    }

    /// <summary>How far back a run's window may reach on this sensor: what its ring holds.</summary>
    public double HistoryMs(string sensor)
    {
        var source = host.Find(sensor)!;
        return (host.Ring(sensor)?.Capacity ?? 0) * 1000 / source.SampleRate;
    }

    /// <summary>Where a live run starts: <paramref name="preMs"/> before <paramref name="at"/> (a firing's timestamp; now when null).</summary>
    public LiveStart Start(long? at, double preMs)
    {
        long now = host.TimeProvider.GetTimestamp();
        return new(now, (at ?? now) - (long)(preMs * host.TimeProvider.TimestampFrequency / 1000));
    }

    /// <summary>Checks that the window reaches back no further than every sensor keeps.</summary>
    public void CheckHistory(string input, string sensor, double preMs)
    {
        double kept = HistoryMs(sensor);
        if (preMs > kept)
        {
            throw new EdgeRuntimeException(ErrorCodes.BadRequest, string.Create(CultureInfo.InvariantCulture, $"{input}: a window {preMs:0.#} ms back reaches further than sensor '{sensor}' keeps ({kept:0.#} ms; raise its bufferMs)."));
        }
    }

    /// <summary>A reader of a microphone from the run's start, in blocks of <paramref name="blockMs"/> at the encoder's <paramref name="rate"/>.</summary>
    public IModalitySource OpenAudio(string sensor, LiveStart start, int rate, int samples, double blockMs)
    {
        var stream = Open("audio", sensor, start, out long first);
        return new LiveAudioSource(stream, first, host.Find(sensor)!.SampleRate, rate, samples, blockMs);
    }

    /// <summary>A reader of a camera from the run's start: one grey frame of cols×rows per interval.</summary>
    public IModalitySource OpenFrames(string sensor, LiveStart start, int frames, double intervalMs, int cols, int rows)
    {
        var stream = Open("vision", sensor, start, out long first);
        return new LiveFrameSource(stream, (ICameraSource)host.Find(sensor)!, first, frames, intervalMs, cols, rows);
    }

    /// <summary>The first frame the camera took after the start, grey, with its size and run-clock time.</summary>
    internal async Task<LiveFrame> CaptureAsync(string input, string sensor, LiveStart start, CancellationToken cancellationToken)
    {
        using var stream = Open(input, sensor, start, out long first);
        var camera = (ICameraSource)host.Find(sensor)!;
        var frame = new float[camera.Width * camera.Height * camera.Colours];
        long taken = await stream.ReadAsync(first, 1, frame, 0, cancellationToken).ConfigureAwait(false);
        return new LiveFrame(FrameConversion.Grey(frame, camera.Colours), camera.Width, camera.Height, stream.ToRunMs(taken));
    }

    /// <summary>Where a run's window begins on its own clock, in milliseconds (−preMs, or earlier for a trigger's run).</summary>
    public double WindowStartMs(LiveStart start) => Math.Round((start.From - start.RunStart) * 1000.0 / host.TimeProvider.TimestampFrequency, 3);

    /// <summary>The rate a sensor delivers at (samples or frames a second).</summary>
    public double RateOf(string sensor) => host.Find(sensor)!.SampleRate;

    private LiveStream Open(string input, string sensor, LiveStart start, out long first)
    {
        // A stopped sensor (its recording ended) may still hold the run's frames; only a failed one is refused now.
        var (state, message) = host.StateOf(sensor);
        if (state == "failed")
        {
            throw new EdgeRuntimeException(ErrorCodes.SensorFailed, $"{input}: sensor '{sensor}' is {state}{(message is null ? "" : $": {message}")}.");
        }

        var ring = host.Ring(sensor) ?? throw new InvalidOperationException($"sensor '{sensor}' keeps no ring; the pipeline was not checked at load.");
        var hold = host.Acquire(sensor);
        first = ring.FirstIndexAfter(start.From, out bool complete);
        if (!complete)
        {
            // The run started too long after its window's start (a trigger's run waited for a slot, the latency table
            // was profiled again): the window's first frames are gone. Say so rather than run a shorter window.
            hold.Dispose();
            throw new EdgeRuntimeException(ErrorCodes.SensorOverrun, string.Create(CultureInfo.InvariantCulture, $"{input}: the run's window starts {(host.TimeProvider.GetTimestamp() - start.From) * 1000.0 / host.TimeProvider.TimestampFrequency:0} ms back, and sensor '{sensor}' keeps {HistoryMs(sensor):0} ms; raise its bufferMs."));
        }

        return new LiveStream(host, input, sensor, ring, hold, start.RunStart);
    }

    private ISensorSource Find(string input, string sensor) =>
        host.Find(sensor) ?? throw new InvalidDataException($"{input}: there is no sensor '{sensor}'; the daemon's sensors are: {(host.Sources.Any() ? string.Join(", ", host.Sources.Select(s => s.Name)) : "none")}.");

    private static string Describe(ISensorSource source) =>
        source.SampleRate <= 0 ? "events"
        : source is ICameraSource camera ? string.Create(CultureInfo.InvariantCulture, $"{camera.Width}x{camera.Height} {(camera.Colours == 1 ? "grey" : "RGB")} frames at {camera.SampleRate:0.##}/s")
        : string.Create(CultureInfo.InvariantCulture, $"{source.Channels.Count} channel(s) at {source.SampleRate:0.##} Hz");
}

/// <summary>
/// When a live run starts: <see cref="RunStart"/> is the run clock's zero (the moment it was asked for) and
/// <see cref="From"/> the moment its first units begin after (earlier by the pre-window). Sensor-clock timestamps.
/// </summary>
public sealed record LiveStart(long RunStart, long From);

/// <summary>A camera frame taken live: grey values, size, and when on the run's clock.</summary>
internal sealed record LiveFrame(float[] Grey, int Width, int Height, double TakenMs);

/// <summary>The run's clock on the sensors' clock, so unit times and sensor timestamps agree (a test's fake clock included).</summary>
public sealed class SensorClock(TimeProvider time, long start) : IPipelineClock
{
    public double NowMs => time.GetElapsedTime(start).TotalMilliseconds;

    public bool IsWallTime => time == TimeProvider.System;

    public async ValueTask DelayUntilAsync(double ms, CancellationToken cancellationToken)
    {
        double remaining = ms - NowMs;
        if (remaining > 0)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(remaining), time, cancellationToken).ConfigureAwait(false);
        }
    }
}
