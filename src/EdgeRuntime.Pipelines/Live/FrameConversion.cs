using EdgeRuntime.Formats;

namespace EdgeRuntime.Pipelines.Live;

/// <summary>
/// A camera frame made into what an encoder takes: grey (the luma weights NetpbmImage uses, so a colour picture read
/// live and read from a file turn the same grey), then shrunk by averaging each target pixel's box of source pixels.
/// A frame already of the target size is passed through untouched, so a replayed camera gives the file's exact values.
/// </summary>
public static class FrameConversion
{
    /// <summary>Grey values of an interleaved frame of <paramref name="colours"/> (1 or 3) channels.</summary>
    public static float[] Grey(ReadOnlySpan<float> frame, int colours) =>
        colours == 1 ? frame.ToArray() : NetpbmImage.Luma(frame);

    /// <summary>Shrinks a grey width×height picture to cols×rows by box averages (each target pixel the mean of the source pixels it covers).</summary>
    public static float[] Shrink(float[] grey, int width, int height, int cols, int rows)
    {
        if (width == cols && height == rows)
        {
            return grey;
        }

        if (cols > width || rows > height)
        {
            throw new ArgumentException($"A {width}x{height} frame cannot be shrunk to {cols}x{rows}.");
        }

        var result = new float[cols * rows];
        for (int r = 0; r < rows; r++)
        {
            int y0 = r * height / rows, y1 = Math.Max(y0 + 1, (r + 1) * height / rows);
            for (int c = 0; c < cols; c++)
            {
                int x0 = c * width / cols, x1 = Math.Max(x0 + 1, (c + 1) * width / cols);
                double sum = 0;
                for (int y = y0; y < y1; y++)
                {
                    for (int x = x0; x < x1; x++)
                    {
                        sum += grey[(y * width) + x];
                    }
                }

                result[(r * cols) + c] = (float)(sum / ((y1 - y0) * (x1 - x0)));
            }
        }

        return result;
    }

    /// <summary>Grey values in [0, 1] as bytes, for storing the frame beside a result.</summary>
    public static byte[] ToBytes(float[] grey)
    {
        var bytes = new byte[grey.Length];
        for (int i = 0; i < grey.Length; i++)
        {
            bytes[i] = (byte)Math.Clamp(MathF.Round(grey[i] * 255), 0, 255);
        }

        return bytes;
    }
}
