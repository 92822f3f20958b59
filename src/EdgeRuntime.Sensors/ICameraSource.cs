namespace EdgeRuntime.Sensors;

/// <summary>
/// A source whose samples are pictures: one sample is one frame, its channels the pixels row by row (colours
/// interleaved), so Channels.Count = Height × Width × Colours. Consumers that need the picture's shape (a captioning
/// trigger) read it here; everyone else sees an ordinary wide stream.
/// </summary>
public interface ICameraSource : ISensorSource
{
    int Width { get; }

    int Height { get; }

    /// <summary>1 for grey, 3 for RGB (interleaved per pixel).</summary>
    int Colours { get; }
}
