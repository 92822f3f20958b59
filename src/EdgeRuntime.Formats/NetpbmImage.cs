using System.Globalization;
using System.Text;

namespace EdgeRuntime.Formats;

/// <summary>
/// An 8-bit binary PGM (P5, grey) or PPM (P6, RGB) image as floats in [0, 1], row-major, colours interleaved. Netpbm
/// is what ImageMagick, ffmpeg and PIL write without extra libraries, so it is the image format replayed frames use.
/// </summary>
public sealed record NetpbmImage(int Width, int Height, int Colours, float[] Pixels)
{
    /// <summary>True for the file names <see cref="Read"/> takes (.pgm, .ppm).</summary>
    public static bool IsImageFile(string path) =>
        path.EndsWith(".pgm", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".ppm", StringComparison.OrdinalIgnoreCase);

    /// <summary>The images in a folder, in ordinal name order (name frames 000.pgm, 001.pgm, ...).</summary>
    public static string[] ImagesIn(string folder) => [.. Directory.GetFiles(folder).Where(IsImageFile).Order(StringComparer.Ordinal)];

    /// <summary>The image in grey: itself when it already is, else ITU-R BT.601 luma of each pixel.</summary>
    public float[] Grey() => Colours == 1 ? Pixels : Luma(Pixels);

    /// <summary>
    /// ITU-R BT.601 luma of RGB pixels interleaved R, G, B: how a colour picture is turned grey wherever one is, so a
    /// picture read from a file and the same picture taken by a camera turn the same grey.
    /// </summary>
    public static float[] Luma(ReadOnlySpan<float> rgb)
    {
        var grey = new float[rgb.Length / 3];
        for (int i = 0; i < grey.Length; i++)
        {
            grey[i] = (0.299f * rgb[3 * i]) + (0.587f * rgb[(3 * i) + 1]) + (0.114f * rgb[(3 * i) + 2]);
        }

        return grey;
    }

    /// <summary>Reads binary PGM/PPM with 8-bit samples (maxval ≤ 255).</summary>
    public static NetpbmImage Read(string path)
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

        return new NetpbmImage(width, height, colours, pixels);
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
