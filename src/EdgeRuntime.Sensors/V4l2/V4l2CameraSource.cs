using Iot.Device.Media;

namespace EdgeRuntime.Sensors.V4l2;

/// <summary>
/// A camera through V4L2 (Iot.Device.Media's VideoDevice): YUYV frames at Width×Height, taken SampleHz times a second
/// and delivered as the grey (Y) plane in [0, 1] — what the small vision models on these boards take. One frame is one
/// sample whose channels are its pixels, as with <see cref="Replay.ImageSequenceSource"/>.
/// </summary>
public sealed class V4l2CameraSource : ICameraSource, IPausableSource
{
    private readonly string _device;

    public V4l2CameraSource(SensorConfig config)
    {
        Name = config.Name;
        _device = config.Device ?? "/dev/video0";
        Width = config.Width;
        Height = config.Height;
        SampleRate = config.SampleHz > 0 ? config.SampleHz : throw new ArgumentException($"Sensor '{config.Name}': sampleHz must be above 0.");
        if (Width <= 0 || Height <= 0)
        {
            throw new ArgumentException($"Sensor '{config.Name}': width and height must be above 0.");
        }

        Channels = [.. Enumerable.Range(0, Width * Height).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))];
    }

    public string Name { get; }

    /// <summary>The clock that paces it and stamps its frames; <see cref="SensorFactory"/> sets the host's.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>
    /// Paused, no frame is captured (no V4L2 capture, no YUYV conversion); the device stays open.
    /// Made at first use, on the sensor's clock: by the host when it is added on demand, otherwise by the capture loop.
    /// </summary>
    public PauseGate Pause => field ??= new PauseGate(TimeProvider);

    public string Type => "v4l2";

    public IReadOnlyList<string> Channels { get; }

    public double SampleRate { get; }

    public int Width { get; }

    public int Height { get; }

    /// <summary>Always grey: the Y plane of the YUYV capture.</summary>
    public int Colours => 1;

    public async Task RunAsync(ISensorObserver observer, CancellationToken cancellationToken)
    {
        if (!File.Exists(_device))
        {
            throw new IOException($"Camera {_device} does not exist: no V4L2 device is attached (ls /dev/video*), or the camera stack is not enabled.");
        }

        int bus = int.Parse(_device.AsSpan(_device.LastIndexOf("video", StringComparison.Ordinal) + "video".Length), System.Globalization.CultureInfo.InvariantCulture);
        using var camera = VideoDevice.Create(new VideoConnectionSettings(bus, ((uint)Width, (uint)Height), VideoPixelFormat.YUYV));
        observer.OnOpened(this);
        float[] grey = new float[Width * Height];
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1.0 / SampleRate), TimeProvider);
        do
        {
            await Pause.WaitWhilePausedAsync(cancellationToken).ConfigureAwait(false);
            byte[] yuyv = camera.Capture();
            if (yuyv.Length < grey.Length * 2)
            {
                throw new IOException($"Camera {_device} returned {yuyv.Length} bytes for a {Width}x{Height} YUYV frame.");
            }

            for (int i = 0; i < grey.Length; i++)
            {
                grey[i] = yuyv[2 * i] / 255f;
            }

            observer.OnFrame(this, new SensorFrame(TimeProvider.GetTimestamp(), grey, grey.Length));
        }
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false));
    }
}
