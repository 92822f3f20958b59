namespace EdgeRuntime.Sensors;

/// <summary>
/// A sensor read one sample at a time at a fixed rate (I2C environmental sensors and IMUs). Subclasses open the device
/// and read one sample; this class keeps the pace. A late read does not cause a burst of catch-up reads: the timer
/// skips missed ticks, so the rate is an upper bound.
/// </summary>
public abstract class PolledSensorSource(string name, double sampleHz) : ISensorSource
{
    public string Name { get; } = name;

    public abstract string Type { get; }

    public abstract IReadOnlyList<string> Channels { get; }

    /// <summary>The clock that paces it and stamps its frames; <see cref="SensorFactory"/> sets the host's.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    public double SampleRate { get; } = sampleHz > 0 ? sampleHz : throw new ArgumentOutOfRangeException(nameof(sampleHz), sampleHz, "sampleHz must be above 0.");

    /// <summary>Opens the device; the returned object is disposed when the run ends (failure or cancellation).</summary>
    protected abstract IDisposable Open();

    /// <summary>Reads one sample of every channel into <paramref name="values"/> (length = Channels.Count).</summary>
    protected abstract void Read(Span<float> values);

    public async Task RunAsync(ISensorObserver observer, CancellationToken cancellationToken)
    {
        using var device = Open();
        observer.OnOpened(this);
        float[] sample = new float[Channels.Count];
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1.0 / SampleRate), TimeProvider);
        do
        {
            Read(sample);
            observer.OnFrame(this, new SensorFrame(TimeProvider.GetTimestamp(), sample, sample.Length));
        }
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false));
    }
}
