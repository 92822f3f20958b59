namespace EdgeRuntime.Sensors;

/// <summary>
/// One sensor. <see cref="RunAsync"/> opens the device and produces readings or edges until cancelled; when the device
/// fails it throws, and <see cref="SensorHost"/> reports the failure and runs it again after a backoff. A source is
/// therefore written as "open, loop, let exceptions out": no retry logic of its own.
/// </summary>
public interface ISensorSource
{
    string Name { get; }

    /// <summary>The configuration's type name: gpio, bme280, mpu6050, alsa, v4l2, wav, series, images.</summary>
    string Type { get; }

    /// <summary>Channel names of each sample, in order (e.g. temperature, pressure, humidity).</summary>
    IReadOnlyList<string> Channels { get; }

    /// <summary>Samples per second per channel, used to size pre-trigger buffers; 0 for event-only sources (GPIO).</summary>
    double SampleRate { get; }

    Task RunAsync(ISensorObserver observer, CancellationToken cancellationToken);
}

/// <summary>Receives what sources produce. Called on the source's own thread; implementations must be quick and thread-safe.</summary>
public interface ISensorObserver
{
    /// <summary>The device is open and working; a source that failed before counts as recovered from here.</summary>
    void OnOpened(ISensorSource source)
    {
    }

    void OnFrame(ISensorSource source, in SensorFrame frame);

    void OnEdge(ISensorSource source, GpioEdge edge);
}

/// <summary>
/// A block of samples, interleaved by channel (frame count = Samples.Length / Channels), stamped with the monotonic
/// time at which its last sample was taken, in <see cref="TimeProvider.GetTimestamp"/> ticks of the sensor host's clock
/// (<see cref="SensorHost.TimeProvider"/>; Stopwatch ticks with the system clock). The memory is only valid during the
/// call.
/// </summary>
public readonly record struct SensorFrame(long Timestamp, ReadOnlyMemory<float> Samples, int Channels)
{
    public int Count => Channels == 0 ? 0 : Samples.Length / Channels;
}

/// <summary>An accepted (debounced) GPIO edge; Timestamp is in the same ticks as <see cref="SensorFrame.Timestamp"/>.</summary>
public readonly record struct GpioEdge(long Timestamp, int Pin, bool Rising);

/// <summary>A simulated sensor that tests, the demo and the benchmark can feed (the socket's inject message).</summary>
public interface ISimulatedInput
{
    /// <summary>Delivers an edge exactly as the hardware driver would. Throws InvalidOperationException if the sensor has no edges.</summary>
    void InjectEdge(bool rising);

    /// <summary>Sets channel values the device reports from now on. Throws ArgumentException for an unknown channel.</summary>
    void InjectValues(IReadOnlyList<KeyValuePair<string, double>> values);
}
