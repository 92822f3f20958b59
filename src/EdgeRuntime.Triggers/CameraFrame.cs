using EdgeRuntime.Sensors;

namespace EdgeRuntime.Triggers;

/// <summary>Turns one camera sample (pixels in [0, 1], colours interleaved) into the grey 0..255 picture a captioner takes.</summary>
internal static class CameraFrame
{
    /// <summary>
    /// Height × width grey values in 0..255, row by row. RGB is turned grey with ITU-R BT.601 luma, as the replay
    /// and pipeline code do. Values are rounded: the sensors' values are 8-bit levels divided by 255, and rounding
    /// gives back exactly the level the camera or the file held, not that level give or take a float's last bit.
    /// </summary>
    public static float[] ToGrey255(ReadOnlySpan<float> pixels, ICameraSource camera)
    {
        int count = camera.Width * camera.Height;
        if (pixels.Length != count * camera.Colours)
        {
            throw new InvalidOperationException($"camera '{camera.Name}' delivered {pixels.Length} values for a {camera.Width}x{camera.Height}x{camera.Colours} frame.");
        }

        var grey = new float[count];
        for (int i = 0; i < count; i++)
        {
            float v = camera.Colours == 1
                ? pixels[i]
                : (0.299f * pixels[3 * i]) + (0.587f * pixels[(3 * i) + 1]) + (0.114f * pixels[(3 * i) + 2]);
            grey[i] = Math.Clamp(MathF.Round(v * 255f), 0f, 255f);
        }

        return grey;
    }
}
