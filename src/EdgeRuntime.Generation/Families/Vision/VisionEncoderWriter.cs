using EdgeRuntime.Generation.Folder;
using Microsoft.ML.OnnxRuntime;

namespace EdgeRuntime.Generation.Families.Vision;

/// <summary>
/// Writes a vision-language folder's encoder graph (<see cref="VisionSettings.Graph"/>): float32, or W8A16 QDQ whose
/// activation ranges come from running the float graph over calibration images. For W8A16 it also measures what the
/// quantization costs: the SQNR of the image embeddings against the float encoder's on the same images.
/// </summary>
public static class VisionEncoderWriter
{
    /// <summary>What was written: the format, the embeddings' SQNR (W8A16), the images calibrated on, each layer's weight SQNR.</summary>
    public sealed record Report(string Format, double? EmbeddingsSqnrDb, int CalibrationImages, IReadOnlyList<ProjectionError> Layers);

    /// <param name="calibrationImages">Images in [0, 1], channels × height × width each; needed for W8A16.</param>
    public static Report Write(string folder, VisionSettings settings, int hidden, VisionWeights weights, IReadOnlyList<float[]>? calibrationImages, int threads = 0)
    {
        string path = Path.Combine(folder, settings.Graph);
        if (settings.Quantization is null or VisionFormats.Float32)
        {
            VisionGraphBuilder.Build(settings, hidden, weights, ranges: null).Save(path);
            return new Report(VisionFormats.Float32, null, 0, []);
        }

        if (settings.Quantization != VisionFormats.W8A16)
        {
            throw new ArgumentException($"The vision encoder's quantization is \"{settings.Quantization}\"; it must be one of {string.Join(", ", VisionFormats.All)}.", nameof(settings));
        }

        if (calibrationImages is not { Count: > 0 })
        {
            throw new ArgumentException("A W8A16 vision encoder needs calibration images for its activation ranges.", nameof(calibrationImages));
        }

        using var options = new SessionOptions { IntraOpNumThreads = threads };
        using var run = new RunOptions();
        using var calibrationSession = new InferenceSession(VisionGraphBuilder.Build(settings, hidden, weights, ranges: null, exposeActivations: true).Build(), options);
        var ranges = new Dictionary<string, ActivationRange>(StringComparer.Ordinal);
        var floatEmbeddings = new List<float[]>();
        foreach (var image in calibrationImages)
        {
            ranges[VisionGraphBuilder.PixelValues] = ranges.TryGetValue(VisionGraphBuilder.PixelValues, out var seenPixels) ? seenPixels.Including(ActivationRange.Of(image)) : ActivationRange.Of(image);
            using var input = OrtValue.CreateTensorValueFromMemory(image, [1, settings.Channels, settings.ImageHeight, settings.ImageWidth]);
            using var results = calibrationSession.Run(run, [VisionGraphBuilder.PixelValues], [input], calibrationSession.OutputNames);
            for (int o = 0; o < results.Count; o++)
            {
                string name = calibrationSession.OutputNames[o];
                var values = results[o].GetTensorDataAsSpan<float>();
                var seen = ActivationRange.Of(values);
                ranges[name] = ranges.TryGetValue(name, out var before) ? before.Including(seen) : seen;
                if (name == VisionGraphBuilder.ImageEmbeds)
                {
                    floatEmbeddings.Add(values.ToArray());
                }
            }
        }

        var errors = new List<ProjectionError>();
        var quantized = VisionGraphBuilder.Build(settings, hidden, weights, ranges, errors: errors);
        quantized.Save(path);
        using var quantizedSession = new InferenceSession(path, options);
        var expected = new List<float>();
        var actual = new List<float>();
        for (int i = 0; i < calibrationImages.Count; i++)
        {
            using var input = OrtValue.CreateTensorValueFromMemory(calibrationImages[i], [1, settings.Channels, settings.ImageHeight, settings.ImageWidth]);
            using var results = quantizedSession.Run(run, [VisionGraphBuilder.PixelValues], [input], [VisionGraphBuilder.ImageEmbeds]);
            expected.AddRange(floatEmbeddings[i]);
            actual.AddRange(results[0].GetTensorDataAsSpan<float>().ToArray());
        }

        return new Report(VisionFormats.W8A16, Sqnr.Decibels([.. expected], [.. actual]), calibrationImages.Count, errors);
    }
}
