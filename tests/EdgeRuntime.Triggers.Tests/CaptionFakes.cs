using System.Globalization;
using System.Threading.Channels;
using EdgeRuntime.Sensors;

namespace EdgeRuntime.Triggers.Tests;

/// <summary>
/// The vision-language model's stand-in: records every frame it is asked to caption and answers with
/// <see cref="Answer"/>, or throws <see cref="Failure"/> as the daemon's engine does for an unknown model.
/// </summary>
internal sealed class FakeCaptioner : IFrameCaptioner
{
    private readonly List<(string Model, float[] Frame, int Height, int Width, int MaxTokens)> _calls = [];

    public FrameCaption Answer { get; init; } = new("a dark sneaker", 4, 12.5, 40);

    public Exception? Failure { get; init; }

    public (string Model, float[] Frame, int Height, int Width, int MaxTokens)[] Calls
    {
        get
        {
            lock (_calls)
            {
                return [.. _calls];
            }
        }
    }

    public Task<FrameCaption> CaptionAsync(string model, float[] frame, int height, int width, int maxTokens, CancellationToken cancellationToken)
    {
        lock (_calls)
        {
            _calls.Add((model, frame, height, width, maxTokens));
        }

        return Failure is null ? Task.FromResult(Answer) : Task.FromException<FrameCaption>(Failure);
    }
}

/// <summary>A camera the test drives by hand: each Push delivers one frame (pixels in [0, 1]) stamped with the time given.</summary>
internal sealed class ManualCamera(string name, int width, int height, double sampleHz, int colours = 1) : ICameraSource
{
    private readonly Channel<(float[] Pixels, long Timestamp)> _pushes = Channel.CreateUnbounded<(float[], long)>();
    private int _delivered;

    public string Name { get; } = name;

    public string Type => "manual-camera";

    public IReadOnlyList<string> Channels { get; } = [.. Enumerable.Range(0, width * height * colours).Select(i => i.ToString(CultureInfo.InvariantCulture))];

    public double SampleRate { get; } = sampleHz;

    public int Width { get; } = width;

    public int Height { get; } = height;

    public int Colours { get; } = colours;

    /// <summary>Frames the host has finished passing on (buffered and seen by the trigger engine).</summary>
    public int Delivered => Volatile.Read(ref _delivered);

    public void Push(long timestamp, params float[] pixels) => _pushes.Writer.TryWrite((pixels, timestamp));

    public async Task RunAsync(ISensorObserver observer, CancellationToken cancellationToken)
    {
        observer.OnOpened(this);
        await foreach (var (pixels, timestamp) in _pushes.Reader.ReadAllAsync(cancellationToken))
        {
            observer.OnFrame(this, new SensorFrame(timestamp, pixels, pixels.Length));
            Interlocked.Increment(ref _delivered);
        }
    }
}
