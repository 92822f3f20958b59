using EdgeRuntime.Generation.Decoding;
using EdgeRuntime.Generation.Folder;
using Microsoft.ML.OnnxRuntime;

namespace EdgeRuntime.Generation.Families.Lfm2;

/// <summary>
/// The activation ranges a QDQ export quantizes with: the float model's static prefill graph, written with every
/// projection's input and output as extra outputs, runs over calibration text, and each tensor's smallest and largest
/// value are kept. Each chunk of text starts a fresh sequence at position 0 (empty cache and conv state): the ranges of
/// these activations depend on the tokens, not on how far into a sequence they are, and it keeps calibration to one graph
/// and no cache bookkeeping.
/// </summary>
public static class ActivationCalibration
{
    /// <summary>
    /// What calibration found: each projection input's and output's range, and each projection input's Gram matrix
    /// XᵀX / rows ([features, features], row-major) for <see cref="GptqRounding"/>.
    /// </summary>
    public sealed record Result(IReadOnlyDictionary<string, ActivationRange> Ranges, IReadOnlyDictionary<string, double[]> Grams);

    /// <param name="config">The static configuration the QDQ folder will have (its chunk and capacity are used here).</param>
    /// <param name="sequences">Token sequences to calibrate on; each is cut into prefill chunks.</param>
    /// <param name="workFolder">Where the calibration graph is written (deleted afterwards).</param>
    public static Result Run(LanguageModelConfig config, Lfm2Weights weights, string tokenizerJson, IEnumerable<long[]> sequences, string workFolder, int threads = 0)
    {
        var shapes = config.Static ?? throw new ArgumentException("Calibration runs the static-shape graph; the configuration has no static section.", nameof(config));
        var floatConfig = config with { ProjectionFormat = null, ProjectionBlockSize = null, Vision = null };
        Directory.CreateDirectory(workFolder);
        try
        {
            var projections = new List<ProjectionActivations>();
            Lfm2FolderWriter.WriteStatic(workFolder, floatConfig, weights, tokenizerJson, errors: null, calibration: null, exposeActivations: projections);
            using var options = new SessionOptions { IntraOpNumThreads = threads };
            using var session = new InferenceSession(Path.Combine(workFolder, shapes.PrefillGraph), options);
            return Collect(session, floatConfig, shapes, sequences, projections.Select(p => p.Input).ToHashSet(StringComparer.Ordinal));
        }
        finally
        {
            Directory.Delete(workFolder, recursive: true);
        }
    }

    private static Result Collect(InferenceSession session, LanguageModelConfig config, StaticShapes shapes, IEnumerable<long[]> sequences, HashSet<string> projectionInputs)
    {
        int chunk = shapes.PrefillChunk, capacity = shapes.Capacity, width = capacity + chunk;
        var attention = LayerKinds.Layers(config, LayerKinds.Attention);
        var conv = LayerKinds.Layers(config, LayerKinds.Conv);
        int convWidth = (config.ConvKernel ?? 1) - 1;

        // Fresh state for every chunk: a zero cache that the mask hides entirely, and a zero conv state.
        var positions = Enumerable.Range(0, chunk).ToArray();
        var mask = new float[chunk * width];
        StaticNames.FillMask(mask, chunk, capacity, position: 0);

        var emptyCache = new float[(long)config.KvHeads * capacity * config.HeadDim];
        var ids = new int[chunk];
        var lastIndex = new int[1];
        var inputs = new Dictionary<string, OrtValue>(StringComparer.Ordinal)
        {
            [DecoderNames.InputIds] = OrtValue.CreateTensorValueFromMemory(ids, [1, chunk]),
            [StaticNames.PositionIds] = OrtValue.CreateTensorValueFromMemory(positions, [1, chunk]),
            [StaticNames.AttentionMask] = OrtValue.CreateTensorValueFromMemory(mask, [1, 1, chunk, width]),
            [StaticNames.LastIndex] = OrtValue.CreateTensorValueFromMemory(lastIndex, [1]),
        };
        foreach (int l in attention)
        {
            inputs[DecoderNames.PastKey(l)] = OrtValue.CreateTensorValueFromMemory(emptyCache, [1, config.KvHeads, capacity, config.HeadDim]);
            inputs[DecoderNames.PastValue(l)] = OrtValue.CreateTensorValueFromMemory(emptyCache, [1, config.KvHeads, capacity, config.HeadDim]);
        }

        foreach (int l in conv)
        {
            inputs[DecoderNames.PastConv(l)] = OrtValue.CreateTensorValueFromMemory(new float[config.HiddenSize * convWidth], [1, config.HiddenSize, convWidth]);
        }

        var ranges = new Dictionary<string, ActivationRange>(StringComparer.Ordinal);
        var grams = new Dictionary<string, float[]>(StringComparer.Ordinal);
        long rowsSeen = 0;
        string[] inputNames = [.. inputs.Keys];
        OrtValue[] inputValues = [.. inputs.Values];
        using var run = new RunOptions();
        try
        {
            foreach (var sequence in sequences)
            {
                for (int start = 0; start < sequence.Length; start += chunk)
                {
                    int count = Math.Min(chunk, sequence.Length - start);
                    for (int i = 0; i < chunk; i++)
                    {
                        ids[i] = i < count ? checked((int)sequence[start + i]) : 0;
                    }

                    lastIndex[0] = count - 1;
                    rowsSeen += count;
                    using var results = session.Run(run, inputNames, inputValues, session.OutputNames);
                    for (int o = 0; o < results.Count; o++)
                    {
                        // Padding rows are left out: their values are not text the model will see.
                        string name = session.OutputNames[o];
                        var values = results[o].GetTensorDataAsSpan<float>();
                        var shape = results[o].GetTensorTypeAndShape().Shape;
                        bool chunkRows = shape is [1, long rows, _] && rows == chunk;
                        if (chunkRows)
                        {
                            values = values[..(count * (int)shape[2])];
                        }

                        var seen = ActivationRange.Of(values);
                        ranges[name] = ranges.TryGetValue(name, out var before) ? before.Including(seen) : seen;
                        if (chunkRows && projectionInputs.Contains(name))
                        {
                            AddGram(grams, name, values, (int)shape[2]);
                        }
                    }
                }
            }
        }
        finally
        {
            foreach (var value in inputs.Values)
            {
                value.Dispose();
            }
        }

        if (ranges.Count == 0)
        {
            throw new ArgumentException("No calibration tokens: QDQ needs text to calibrate its activation ranges on.", nameof(sequences));
        }

        return new Result(ranges, grams.ToDictionary(p => p.Key, p => Symmetric(p.Value, (int)Math.Sqrt(p.Value.Length), rowsSeen), StringComparer.Ordinal));
    }

    /// <summary>Adds each row's outer product to the tensor's Gram matrix (upper triangle; rows of <paramref name="width"/> features).</summary>
    private static void AddGram(Dictionary<string, float[]> grams, string name, ReadOnlySpan<float> values, int width)
    {
        if (!grams.TryGetValue(name, out var gram))
        {
            grams[name] = gram = new float[width * width];
        }

        for (int start = 0; start < values.Length; start += width)
        {
            var row = values.Slice(start, width);
            for (int i = 0; i < width; i++)
            {
                float x = row[i];
                if (x != 0)
                {
                    System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(row[i..], x, gram.AsSpan((i * width) + i, width - i), gram.AsSpan((i * width) + i, width - i));
                }
            }
        }
    }

    /// <summary>The full symmetric matrix from its upper triangle, divided by the rows seen.</summary>
    private static double[] Symmetric(float[] upper, int width, long rows)
    {
        var full = new double[upper.Length];
        for (int i = 0; i < width; i++)
        {
            for (int j = i; j < width; j++)
            {
                full[(i * width) + j] = full[(j * width) + i] = upper[(i * width) + j] / (double)rows;
            }
        }

        return full;
    }
}
