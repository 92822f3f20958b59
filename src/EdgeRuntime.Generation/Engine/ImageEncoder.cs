using System.Buffers.Binary;
using System.Globalization;
using EdgeRuntime.Generation.Families.Vision;
using EdgeRuntime.Generation.Folder;
using EdgeRuntime.Inference;
using EdgeRuntime.Protocol;
using Microsoft.ML.OnnxRuntime;

namespace EdgeRuntime.Generation.Engine;

/// <summary>
/// A vision-language model's image side: checks an image from a request against the encoder's input, and runs the
/// encoder graph to turn it into the embeddings that go before the session's first token. Thread-safe (ORT's Run is),
/// so requests encode their images on their own threads, not the generation loop's.
/// </summary>
internal sealed class ImageEncoder : IDisposable
{
    private readonly InferenceSession _session;
    private readonly VisionSettings _settings;
    private readonly int _hidden;

    private ImageEncoder(InferenceSession session, VisionSettings settings, int hidden)
    {
        _session = session;
        _settings = settings;
        _hidden = hidden;
    }

    public VisionSettings Settings => _settings;

    public static ImageEncoder Load(string graphPath, VisionSettings settings, int hidden, int threads)
    {
        using var options = SessionFactory.CreateOptions(new InferenceOptions { IntraOpThreads = Math.Max(1, threads) });
        InferenceSession session;
        try
        {
            session = new InferenceSession(graphPath, options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new EdgeRuntimeException(ErrorCodes.ModelLoadFailed, $"ONNX Runtime refused the vision encoder {graphPath}: {e.Message}", e);
        }

        long[] expectedIn = [1, settings.Channels, settings.ImageHeight, settings.ImageWidth];
        long[] expectedOut = [1, settings.ImageTokens, hidden];
        bool fits = session.InputMetadata.TryGetValue(VisionGraphBuilder.PixelValues, out var input) && input.Dimensions.Select(d => (long)d).SequenceEqual(expectedIn)
            && session.OutputMetadata.TryGetValue(VisionGraphBuilder.ImageEmbeds, out var output) && output.Dimensions.Select(d => (long)d).SequenceEqual(expectedOut);
        if (!fits)
        {
            session.Dispose();
            throw new EdgeRuntimeException(ErrorCodes.ModelInvalid, $"The vision encoder {graphPath} does not take {VisionGraphBuilder.PixelValues} [{string.Join(", ", expectedIn)}] to {VisionGraphBuilder.ImageEmbeds} [{string.Join(", ", expectedOut)}], as config.json's vision section says.");
        }

        return new ImageEncoder(session, settings, hidden);
    }

    /// <summary>
    /// The image of a request as the encoder's input, [channels · height · width] in [0, 1]: uint8 is divided by 255,
    /// float32 taken as is. Throws <see cref="ErrorCodes.InvalidImage"/> naming what is wrong.
    /// </summary>
    public float[] Pixels(TensorDescriptor image, ReadOnlySpan<byte> payload)
    {
        var s = _settings;
        string expected = s.Channels == 1 ? $"[{s.ImageHeight}, {s.ImageWidth}]" : $"[{s.Channels}, {s.ImageHeight}, {s.ImageWidth}]";
        string shapeText = "[" + string.Join(", ", image.Shape) + "]";
        bool shapeFits = image.Shape switch
        {
            [var h, var w] => s.Channels == 1 && h == s.ImageHeight && w == s.ImageWidth,
            [var c, var h, var w] => c == s.Channels && h == s.ImageHeight && w == s.ImageWidth,
            [1, var c, var h, var w] => c == s.Channels && h == s.ImageHeight && w == s.ImageWidth,
            _ => false,
        };
        if (!shapeFits)
        {
            throw new EdgeRuntimeException(ErrorCodes.InvalidImage, $"The image is {shapeText}; this model's encoder takes {s.ImageHeight}×{s.ImageWidth} images with {s.Channels} channel{(s.Channels == 1 ? "" : "s")}, shaped {expected} (or with leading dimensions of 1).");
        }

        int count = s.Channels * s.ImageHeight * s.ImageWidth;
        int elementSize = image.Dtype switch
        {
            "uint8" => 1,
            "float32" => 4,
            _ => throw new EdgeRuntimeException(ErrorCodes.InvalidImage, $"The image's dtype is \"{image.Dtype}\"; send uint8 (0-255) or float32 (0-1)."),
        };

        if (image.Offset < 0 || image.Length != (long)count * elementSize || image.Offset + image.Length > payload.Length)
        {
            throw new EdgeRuntimeException(ErrorCodes.InvalidImage, $"The image's bytes do not match it: {shapeText} {image.Dtype} is {(long)count * elementSize} bytes; the descriptor says {image.Length} at offset {image.Offset} of a {payload.Length}-byte payload.");
        }

        var bytes = payload.Slice((int)image.Offset, (int)image.Length);
        var pixels = new float[count];
        if (elementSize == 1)
        {
            for (int i = 0; i < count; i++)
            {
                pixels[i] = bytes[i] / 255f;
            }

            return pixels;
        }

        for (int i = 0; i < count; i++)
        {
            float v = BinaryPrimitives.ReadSingleLittleEndian(bytes[(i * 4)..]);
            if (!(v >= 0 && v <= 1))
            {
                throw new EdgeRuntimeException(ErrorCodes.InvalidImage, string.Create(CultureInfo.InvariantCulture, $"A float32 image's values must lie in [0, 1]; element {i} is {v}."));
            }

            pixels[i] = v;
        }

        return pixels;
    }

    /// <summary>The image's embeddings, [imageTokens · hidden].</summary>
    public float[] Encode(float[] pixels)
    {
        var embeddings = new float[_settings.ImageTokens * _hidden];
        using var input = OrtValue.CreateTensorValueFromMemory(pixels, [1, _settings.Channels, _settings.ImageHeight, _settings.ImageWidth]);
        using var output = OrtValue.CreateTensorValueFromMemory(embeddings, [1, _settings.ImageTokens, _hidden]);
        using var run = new RunOptions();
        _session.Run(run, [VisionGraphBuilder.PixelValues], [input], [VisionGraphBuilder.ImageEmbeds], [output]);
        return embeddings;
    }

    public void Dispose() => _session.Dispose();
}
