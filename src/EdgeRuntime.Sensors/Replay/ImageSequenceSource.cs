using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace EdgeRuntime.Sensors.Replay;

/// <summary>
/// A folder of frames played back as a camera would deliver them: binary PGM (P5, grey) or PPM (P6, RGB) files in
/// name order, one per tick, as floats in [0, 1]. One frame is one sample whose channels are its pixels
/// (height × width × colours), so a capture window of K frames is K × pixels values. All frames must be one size.
/// </summary>
public sealed class ImageSequenceSource : ISensorSource
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
        int pixels;
        try
        {
            pixels = ReadNetpbm(first).Pixels.Length;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"Sensor '{config.Name}': cannot read {first}: {e.Message}", e);
        }

        Channels = [.. Enumerable.Range(0, pixels).Select(i => i.ToString(CultureInfo.InvariantCulture))];
    }

    public string Name => _config.Name;

    public string Type => "images";

    /// <summary>One per pixel value; the width of every sample.</summary>
    public IReadOnlyList<string> Channels { get; }

    public double SampleRate { get; }

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
            var pacer = new ReplayPacer(SampleRate, _config.Realtime);
            foreach (string file in files)
            {
                var image = ReadNetpbm(file);
                if (image.Pixels.Length != Channels.Count)
                {
                    throw new InvalidDataException($"{file} has {image.Pixels.Length} values per frame; the sequence started with {Channels.Count}.");
                }

                long taken = await pacer.WaitAsync(1, cancellationToken).ConfigureAwait(false);
                observer.OnFrame(this, new SensorFrame(taken, image.Pixels, image.Pixels.Length));
            }
        }
        while (_config.Loop);
    }

    private static string[] Frames(string folder) =>
        [.. Directory.GetFiles(folder).Where(f => f.EndsWith(".pgm", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".ppm", StringComparison.OrdinalIgnoreCase)).Order(StringComparer.Ordinal)];

    internal sealed record Image(int Width, int Height, int Colours, float[] Pixels);

    /// <summary>Reads binary PGM/PPM with 8-bit samples (maxval ≤ 255) — what ImageMagick, ffmpeg and PIL write.</summary>
    internal static Image ReadNetpbm(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        int at = 0;
        string magic = Token(bytes, ref at, path);
        int colours = magic switch
        {
            "P5" => 1,
            "P6" => 3,
            _ => throw new InvalidDataException($"{path} is not a binary PGM (P5) or PPM (P6) image."),
        };
        int width = Number(bytes, ref at, path);
        int height = Number(bytes, ref at, path);
        int max = Number(bytes, ref at, path);
        if (max is < 1 or > 255)
        {
            throw new InvalidDataException($"{path}: only 8-bit images are read (maxval {max}).");
        }

        at++; // the single whitespace byte after maxval
        long count = (long)width * height * colours;
        if (count <= 0 || at + count > bytes.Length)
        {
            throw new InvalidDataException($"{path}: {width}x{height}x{colours} pixels do not fit in the file.");
        }

        var pixels = new float[count];
        for (int i = 0; i < count; i++)
        {
            pixels[i] = bytes[at + i] / (float)max;
        }

        return new Image(width, height, colours, pixels);
    }

    private static int Number(byte[] bytes, ref int at, string path) =>
        int.TryParse(Token(bytes, ref at, path), NumberStyles.None, CultureInfo.InvariantCulture, out int n) ? n : throw new InvalidDataException($"{path}: a malformed Netpbm header.");

    private static string Token(byte[] bytes, ref int at, string path)
    {
        while (at < bytes.Length && (char.IsWhiteSpace((char)bytes[at]) || bytes[at] == '#'))
        {
            if (bytes[at] == '#')
            {
                while (at < bytes.Length && bytes[at] != '\n')
                {
                    at++;
                }
            }
            else
            {
                at++;
            }
        }

        int start = at;
        while (at < bytes.Length && !char.IsWhiteSpace((char)bytes[at]))
        {
            at++;
        }

        return at > start ? Encoding.ASCII.GetString(bytes, start, at - start) : throw new InvalidDataException($"{path}: the Netpbm header ends early.");
    }
}
