using EdgeRuntime.Formats;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Pipelines;

/// <summary>
/// A recorded stream replayed as a sensor would deliver it: in blocks (20 ms of audio, one video frame), each
/// available at the end of its interval. A WAV file is resampled to the rate the models were trained at and fitted
/// to the expected length. A frame sequence is an .npy of [frames, rows, cols] (float32 in [0,1], or uint8 /255), a CSV
/// with one frame per line, or a folder of PGM/PPM images, one frame each in name order.
/// </summary>
public sealed class ReplayStream
{
    private readonly float[] _data;

    private ReplayStream(string modality, float[] data, int blockValues, double blockMs)
    {
        Modality = modality;
        _data = data;
        BlockValues = blockValues;
        BlockMs = blockMs;
    }

    public string Modality { get; }

    public int BlockValues { get; }

    public double BlockMs { get; }

    public int Blocks => _data.Length / BlockValues;

    public ReadOnlyMemory<float> Block(int index) => _data.AsMemory(index * BlockValues, BlockValues);

    public static ReplayStream Audio(string modality, string path, int sampleRate, int samples, double blockMs)
    {
        WavAudio wav;
        try
        {
            wav = WavAudio.Read(path);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            throw new EdgeRuntimeException(ErrorCodes.InvalidInput, $"{modality}: cannot replay '{path}': {e.Message}");
        }

        if (wav.SampleRate != sampleRate)
        {
            wav = wav.Resample(sampleRate);
        }

        // The models saw windows of exactly this many samples: a longer recording is cut, a shorter one padded with silence.
        var data = new float[samples];
        wav.Samples.AsSpan(0, Math.Min(samples, wav.Samples.Length)).CopyTo(data);
        int blockValues = (int)Math.Round(sampleRate * blockMs / 1000);
        if (blockValues <= 0 || samples % blockValues != 0)
        {
            throw new EdgeRuntimeException(ErrorCodes.InvalidInput, $"{modality}: {blockMs} ms blocks do not divide {samples} samples at {sampleRate} Hz.");
        }

        return new ReplayStream(modality, data, blockValues, blockMs);
    }

    public static ReplayStream Frames(string modality, string path, int frames, int frameSize, double frameIntervalMs, int? index = null)
    {
        float[] values;
        long[] shape;
        try
        {
            (values, shape) = Directory.Exists(path) ? ReadImageFolder(path, frames, frameSize)
                : path.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) ? ReadCsv(path, frameSize)
                : ReadNpy(modality, path, index);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException or ArgumentException)
        {
            throw new EdgeRuntimeException(ErrorCodes.InvalidInput, $"{modality}: cannot replay '{path}': {e.Message}");
        }

        if (shape.Length != 3 || shape[0] != frames || shape[1] * shape[2] != frameSize)
        {
            throw new EdgeRuntimeException(ErrorCodes.InvalidInput, $"{modality}: '{path}' is [{string.Join(",", shape)}]; the models take {frames} frames of {frameSize} values.");
        }

        return new ReplayStream(modality, values, frameSize, frameIntervalMs);
    }

    /// <summary>[frames, rows, cols], or [items, frames, rows, cols] with an index choosing the item.</summary>
    private static (float[] Values, long[] Shape) ReadNpy(string modality, string path, int? index)
    {
        var tensor = NpyFile.Read(path);
        if (tensor.Shape.Length != 4)
        {
            return (PixelArrays.Item(tensor, 0, 1, modality, path), tensor.Shape);
        }

        long items = tensor.Shape[0];
        int item = index ?? throw new EdgeRuntimeException(ErrorCodes.InvalidInput, $"{modality}: '{path}' holds {items} sequences; say which with an index.");
        if (item < 0 || item >= items)
        {
            throw new EdgeRuntimeException(ErrorCodes.InvalidInput, $"{modality}: index {item} is outside the {items} sequences in '{path}'.");
        }

        return (PixelArrays.Item(tensor, item, (int)items, modality, path), tensor.Shape[1..]);
    }

    /// <summary>
    /// A folder of images, one frame each in name order: what a camera recorder or <c>ffmpeg -i clip.mp4 %03d.pgm</c>
    /// leaves behind. Colour frames are turned grey (the models were trained on grey frames).
    /// </summary>
    private static (float[] Values, long[] Shape) ReadImageFolder(string folder, int frames, int frameSize)
    {
        string[] files = NetpbmImage.ImagesIn(folder);
        if (files.Length != frames)
        {
            throw new InvalidDataException($"the folder holds {files.Length} .pgm/.ppm frames; the models take {frames}.");
        }

        var values = new float[frames * frameSize];
        int rows = 0, cols = 0;
        for (int f = 0; f < frames; f++)
        {
            var image = NetpbmImage.Read(files[f]);
            if (image.Width * image.Height != frameSize)
            {
                throw new InvalidDataException($"{Path.GetFileName(files[f])} is {image.Width}x{image.Height}; a frame has {frameSize} pixels.");
            }

            (rows, cols) = (image.Height, image.Width);
            image.Grey().CopyTo(values, f * frameSize);
        }

        return (values, [frames, rows, cols]);
    }

    /// <summary>A CSV series (<see cref="CsvSeries"/>) with one frame per row; square frames are read as side × side.</summary>
    private static (float[] Values, long[] Shape) ReadCsv(string path, int frameSize)
    {
        var csv = CsvSeries.Read(path);
        int side = (int)Math.Sqrt(frameSize);
        long[] shape = csv.Channels.Length == frameSize && side * side == frameSize ? [csv.Rows, side, side] : [csv.Rows, 1, csv.Channels.Length];
        return (csv.Values, shape);
    }
}
