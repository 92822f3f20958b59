using System.Diagnostics;
using System.Threading.Channels;

namespace EdgeRuntime.Sensors.Tests;

/// <summary>
/// A sampled source the test drives by hand: each Push delivers one block with the timestamp given, or stamped by
/// <paramref name="clock"/> (the host's fake clock in the trigger tests).
/// </summary>
internal sealed class ManualSource(string name, string[] channels, double sampleRate, TimeProvider? clock = null) : ISensorSource
{
    private readonly Channel<(float[] Values, long Timestamp)> _pushes = Channel.CreateUnbounded<(float[], long)>();
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private int _delivered;

    public string Name { get; } = name;

    public string Type => "manual";

    public IReadOnlyList<string> Channels { get; } = channels;

    public double SampleRate { get; } = sampleRate;

    public void Push(long timestamp, params float[] values) => _pushes.Writer.TryWrite((values, timestamp));

    public void Push(params float[] values) => Push(_clock.GetTimestamp(), values);

    /// <summary>
    /// Blocks the host has finished passing on (its listeners have returned): once it equals the pushes, every
    /// decision the trigger engine makes on them has been made.
    /// </summary>
    public int Delivered => Volatile.Read(ref _delivered);

    public async Task RunAsync(ISensorObserver observer, CancellationToken cancellationToken)
    {
        observer.OnOpened(this);
        await foreach (var (values, timestamp) in _pushes.Reader.ReadAllAsync(cancellationToken))
        {
            observer.OnFrame(this, new SensorFrame(timestamp, values, Channels.Count));
            Interlocked.Increment(ref _delivered);
        }
    }
}

/// <summary>A source whose device fails while <see cref="Broken"/> is set: opening throws, as an unplugged I2C sensor does.</summary>
internal sealed class FlakySource(string name, TimeProvider? clock = null) : ISensorSource
{
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;

    public volatile bool Broken = true;

    public int Opens;

    public string Name { get; } = name;

    public string Type => "flaky";

    public IReadOnlyList<string> Channels { get; } = ["value"];

    public double SampleRate => 100;

    public async Task RunAsync(ISensorObserver observer, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref Opens);
        if (Broken)
        {
            throw new IOException("Remote I/O error (unplugged)");
        }

        observer.OnOpened(this);
        while (!Broken)
        {
            observer.OnFrame(this, new SensorFrame(_clock.GetTimestamp(), new float[] { 1 }, 1));
            await Task.Delay(10, cancellationToken); // a live device's pace in wall time: nothing asserts on it
        }

        throw new IOException("Remote I/O error (unplugged again)");
    }
}

/// <summary>Collects edges and frames from a host.</summary>
internal sealed class Recorder : ISensorObserver
{
    private readonly List<GpioEdge> _edges = [];

    public GpioEdge[] Edges
    {
        get
        {
            lock (_edges)
            {
                return [.. _edges];
            }
        }
    }

    public void OnEdge(ISensorSource source, GpioEdge edge)
    {
        lock (_edges)
        {
            _edges.Add(edge);
        }
    }

    public void OnFrame(ISensorSource source, in SensorFrame frame)
    {
    }
}

/// <summary>A source that never opens and never fails: a device whose open call hangs.</summary>
internal sealed class SilentSource(string name) : ISensorSource
{
    public string Name { get; } = name;

    public string Type => "silent";

    public IReadOnlyList<string> Channels { get; } = ["value"];

    public double SampleRate => 10;

    public Task RunAsync(ISensorObserver observer, CancellationToken cancellationToken) => Task.Delay(Timeout.Infinite, cancellationToken);
}
