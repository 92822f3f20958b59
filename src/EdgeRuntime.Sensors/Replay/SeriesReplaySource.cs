using System.Globalization;
using EdgeRuntime.Formats;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Sensors.Replay;

/// <summary>
/// A recorded multi-channel series (an IMU log, temperatures) played back one row per tick: a CSV file (an optional
/// header row names the channels; every other row is numbers) or a .npy array of shape [rows] or [rows, channels]
/// (float32 or float64). Read again at every pass, like <see cref="WavReplaySource"/>.
/// </summary>
public sealed class SeriesReplaySource : ISensorSource
{
    private readonly SensorConfig _config;
    private readonly string _path;

    public SeriesReplaySource(SensorConfig config, string path)
    {
        _config = config;
        _path = path;
        SampleRate = config.SampleHz > 0 ? config.SampleHz : throw new ArgumentException($"Sensor '{config.Name}': sampleHz must be above 0.");
        // The channels (and so the pre-trigger buffer's width) come from the recording, so it must be readable now.
        try
        {
            Channels = Load(path).Channels;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"Sensor '{config.Name}': cannot read the recording: {e.Message}", e);
        }
    }

    public string Name => _config.Name;

    public string Type => "series";

    /// <summary>The clock that paces it and stamps its frames; <see cref="SensorFactory"/> sets the host's.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    public IReadOnlyList<string> Channels { get; }

    public double SampleRate { get; }

    public async Task RunAsync(ISensorObserver observer, CancellationToken cancellationToken)
    {
        do
        {
            var series = Load(_path);
            if (series.Channels.Length != Channels.Count)
            {
                throw new InvalidDataException($"{_path} now has {series.Channels.Length} channels; it had {Channels.Count} when the daemon started.");
            }

            observer.OnOpened(this);
            var pacer = new ReplayPacer(SampleRate, _config.Realtime, TimeProvider);
            int width = series.Channels.Length;
            for (int row = 0; row < series.Values.Length / width; row++)
            {
                long taken = await pacer.WaitAsync(1, cancellationToken).ConfigureAwait(false);
                observer.OnFrame(this, new SensorFrame(taken, series.Values.AsMemory(row * width, width), width));
            }
        }
        while (_config.Loop);
    }

    internal sealed record Series(string[] Channels, float[] Values);

    internal static Series Load(string path) =>
        path.EndsWith(".npy", StringComparison.OrdinalIgnoreCase) ? LoadNpy(path) : LoadCsv(path);

    private static Series LoadNpy(string path)
    {
        var tensor = NpyFile.Read(path);
        int width = tensor.Shape.Length switch
        {
            1 => 1,
            2 => checked((int)tensor.Shape[1]),
            _ => throw new InvalidDataException($"{path}: a series is [rows] or [rows, channels]; this array is {tensor.DescribeShape()}."),
        };
        float[] values = tensor.DType switch
        {
            TensorDType.Float32 => tensor.ToArray<float>(),
            TensorDType.Float64 => [.. tensor.ToArray<double>().Select(v => (float)v)],
            _ => throw new InvalidDataException($"{path}: a series must be float32 or float64, not {tensor.DType}."),
        };
        return new Series([.. Enumerable.Range(0, width).Select(i => width == 1 ? "value" : $"c{i}")], values);
    }

    private static Series LoadCsv(string path)
    {
        var csv = CsvSeries.Read(path);
        return new Series(csv.Channels, csv.Values);
    }
}
