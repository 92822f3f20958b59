using System.Globalization;
using EdgeRuntime.Formats;

namespace EdgeRuntime.Sensors.Replay;

/// <summary>
/// A folder of frames played back as a camera would deliver them: binary PGM (P5, grey) or PPM (P6, RGB) files in
/// name order, one per tick, as floats in [0, 1]. One frame is one sample whose channels are its pixels
/// (height × width × colours), so a capture window of K frames is K × pixels values. All frames must be one size and
/// kind (the first frame's, which gives <see cref="Width"/>, <see cref="Height"/> and <see cref="Colours"/>).
/// </summary>
public sealed class ImageSequenceSource : ICameraSource, IPausableSource
{
    private readonly SensorConfig _config;
    private readonly string _folder;

    public ImageSequenceSource(SensorConfig config, string folder)
    {
        _config = config;
        _folder = folder;
        SampleRate = config.SampleHz > 0 ? config.SampleHz : throw new ArgumentException($"Sensor '{config.Name}': sampleHz must be above 0.");
        // The frame size (the buffer's width) comes from the first frame, so the folder must be readable now.
        string first = (Directory.Exists(folder) ? Frames(folder).FirstOrDefault() : null)
            ?? throw new ArgumentException($"Sensor '{config.Name}': {folder} holds no .pgm or .ppm frames.");
        NetpbmImage image;
        try
        {
            image = NetpbmImage.Read(first);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"Sensor '{config.Name}': cannot read {first}: {e.Message}", e);
        }

        (Width, Height, Colours) = (image.Width, image.Height, image.Colours);
        Channels = [.. Enumerable.Range(0, image.Pixels.Length).Select(i => i.ToString(CultureInfo.InvariantCulture))];
    }

    public string Name => _config.Name;

    public string Type => "images";

    /// <summary>The clock that paces it and stamps its frames; <see cref="SensorFactory"/> sets the host's.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>
    /// Paused, the replay stands still: no file is read and no frame delivered; it goes on with the next frame once resumed.
    /// Made at first use, on the sensor's clock: by the host when it is added on demand, otherwise by the capture loop.
    /// </summary>
    public PauseGate Pause => field ??= new PauseGate(TimeProvider);

    /// <summary>One per pixel value; the width of every sample.</summary>
    public IReadOnlyList<string> Channels { get; }

    public double SampleRate { get; }

    public int Width { get; }

    public int Height { get; }

    public int Colours { get; }

    public async Task RunAsync(ISensorObserver observer, CancellationToken cancellationToken)
    {
        do
        {
            string[] files = Frames(_folder);
            if (files.Length == 0)
            {
                throw new FileNotFoundException($"{_folder} holds no .pgm or .ppm frames.");
            }

            observer.OnOpened(this);
            var pacer = new ReplayPacer(SampleRate, _config.Realtime, TimeProvider);
            for (int next = 0; next < files.Length;)
            {
                if (await Pause.WaitWhilePausedAsync(cancellationToken).ConfigureAwait(false))
                {
                    // Resumed: the next frame is due one period from now, not from where the replay stopped.
                    pacer = new ReplayPacer(SampleRate, _config.Realtime, TimeProvider);
                }

                string file = files[next];
                var image = NetpbmImage.Read(file);
                // The same number of values is not enough: a 14×56 frame in a 28×28 sequence would be a different picture.
                if ((image.Width, image.Height, image.Colours) != (Width, Height, Colours))
                {
                    throw new InvalidDataException($"{file} is {Describe(image.Width, image.Height, image.Colours)}; the sequence started with {Describe(Width, Height, Colours)}.");
                }

                long taken = await pacer.WaitAsync(1, cancellationToken).ConfigureAwait(false);
                if (Pause.IsPaused)
                {
                    continue; // paused while it waited: this frame is taken once resumed, not now
                }

                observer.OnFrame(this, new SensorFrame(taken, image.Pixels, image.Pixels.Length));
                next++;
            }
        }
        while (_config.Loop);
    }

    private static string[] Frames(string folder) => NetpbmImage.ImagesIn(folder);

    private static string Describe(int width, int height, int colours) =>
        string.Create(CultureInfo.InvariantCulture, $"{width}x{height} {(colours == 1 ? "grey" : "RGB")}");
}
