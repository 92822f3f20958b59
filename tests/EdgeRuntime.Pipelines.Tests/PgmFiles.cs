using System.Text;

namespace EdgeRuntime.Pipelines.Tests;

/// <summary>Writes the grey PGM pictures that image replay reads, from bytes the tests already hold.</summary>
internal static class PgmFiles
{
    public static void Write(string path, int width, int height, ReadOnlySpan<byte> pixels)
    {
        using var file = File.Create(path);
        file.Write(Encoding.ASCII.GetBytes($"P5\n{width} {height}\n255\n"));
        file.Write(pixels);
    }

    /// <summary>Float pixels in [0, 1] to the bytes an 8-bit picture holds.</summary>
    public static byte[] Quantize(ReadOnlySpan<float> values)
    {
        var bytes = new byte[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            bytes[i] = (byte)Math.Clamp(MathF.Round(values[i] * 255f), 0f, 255f);
        }

        return bytes;
    }
}
