using EdgeRuntime.Generation.Families.Lfm2;
using EdgeRuntime.Generation.Folder;
using EdgeRuntime.Kernels.LowBit;
using EdgeRuntime.Onnx;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Generation.Families;

/// <summary>
/// Writes a float family's projections y = x·Wᵀ in the folder's <see cref="LanguageModelConfig.ProjectionFormat"/>:
/// a float32 MatMul over Wᵀ, MatMulNBits over 4-bit blocks, or QDQ (<see cref="QdqProjection"/>). Records each
/// quantized projection's error (<see cref="Errors"/>) for the import report, and each projection's input and output
/// (<see cref="Activations"/>) for calibration.
/// </summary>
/// <param name="calibration">The calibrated ranges of every projection's input and output, and the Gram matrix of its inputs; needed for QDQ only.</param>
internal sealed class ProjectionWriter(OnnxModelBuilder graph, WeightFileWriter file, string weightsName, LanguageModelConfig config, ActivationCalibration.Result? calibration = null)
{
    /// <summary>Accuracy level 4: MatMulNBits quantizes the activations to int8 per block and runs integer dot products.</summary>
    private const int AccuracyLevel = 4;

    public List<ProjectionError> Errors { get; } = [];

    /// <summary>Every projection written: the tensors it reads and writes, and its sizes.</summary>
    public List<ProjectionActivations> Activations { get; } = [];

    /// <summary>
    /// A projection's int4 weights as the folder stores them: asymmetric (a zero point per block), each block's range and
    /// scale searched for the least squared error rather than taken from its extremes. On the trained LFM2 (tools/lfm2,
    /// block 32) the logits' SQNR against the float model went 26.8 dB (symmetric, from the largest weight) → 27.3
    /// (symmetric, searched) → 28.2 (asymmetric) → 28.7 dB (asymmetric, searched and refit); 30.1 dB at block 16. (Measured
    /// with the kernel computing in float; with its int8 activations, as the engine runs it: 28.6 and 30.0 dB.)
    /// </summary>
    public static NBitsWeights Quantize(DenseMatrix matrix, int block) =>
        NBitsWeights.Quantize(matrix.Values, new NBitsShape(matrix.Rows, matrix.Columns, 4, block), zeroPoints: true, searchScale: true);

    /// <summary>
    /// The output head over the tied embedding: as <see cref="Linear"/>, except that in QDQ its weights are int8 per
    /// output rather than int4 blocks (on the trained LFM2 the logits' SQNR against the float model went from 25.2 dB
    /// with an int4 head to 29.3 dB with this one, before GPTQ rounding; docs/language-models.md).
    /// </summary>
    public void Head(string input, string name, DenseMatrix matrix, string output) => Linear(input, name, matrix, output, head: true);

    public void Linear(string input, string name, DenseMatrix matrix, string output) => Linear(input, name, matrix, output, head: false);

    private void Linear(string input, string name, DenseMatrix matrix, string output, bool head)
    {
        Activations.Add(new ProjectionActivations(input, output, matrix.Columns, matrix.Rows));
        if (config.Projections == ProjectionFormats.Qdq)
        {
            var calibrated = calibration ?? throw new ArgumentException("QDQ projections need calibrated activation ranges.");
            var ranges = calibrated.Ranges;
            int qdqBlock = config.ProjectionBlockSize ?? throw new ArgumentException("QDQ projections need projectionBlockSize");
            Errors.Add(head
                ? QdqProjection.WriteInt8(graph, file, weightsName, input, name, matrix, output, Range(ranges, input), Range(ranges, output))
                : QdqProjection.Write(graph, file, weightsName, input, name, matrix, output, qdqBlock, Range(ranges, input), Range(ranges, output), calibrated.Grams.GetValueOrDefault(input)));
            return;
        }

        if (config.Projections == ProjectionFormats.Float32)
        {
            var transposed = matrix.Transposed();
            graph.ExternalInitializer(name, TensorDType.Float32, [matrix.Columns, matrix.Rows], weightsName, file.Append<float>(transposed), transposed.LongLength * sizeof(float));
            graph.Node("MatMul", [input, name], [output]);
            return;
        }

        int projectionBlock = config.ProjectionBlockSize ?? throw new ArgumentException("int4 projections need projectionBlockSize");
        var gram = calibration?.Grams.GetValueOrDefault(input);
        Int4(input, name, matrix, output, projectionBlock, gram is null ? null : GptqNBits.Quantize(matrix, projectionBlock, GptqRounding.FromGram(gram, matrix.Columns)));
    }

    /// <summary>A MatMulNBits projection over 4-bit blocks of <paramref name="block"/> whatever the folder's projection format (an int4 head).</summary>
    /// <param name="rounded">The weights already quantized (GPTQ); null rounds each block to its searched grid here.</param>
    public void Int4(string input, string name, DenseMatrix matrix, string output, int block, NBitsWeights? rounded = null)
    {
        var shape = new NBitsShape(matrix.Rows, matrix.Columns, 4, block);
        var weights = rounded ?? Quantize(matrix, block);
        Errors.Add(new ProjectionError(name, matrix.Rows, matrix.Columns, Sqnr.Decibels(matrix.Values, weights.Dequantize())));
        graph.ExternalInitializer(name, TensorDType.UInt8, [shape.N, shape.KBlocks, shape.BlobBytes], weightsName, file.Append<byte>(weights.B), weights.B.LongLength);
        graph.ExternalInitializer(name + ".scales", TensorDType.Float32, [(long)shape.N * shape.KBlocks], weightsName, file.Append<float>(weights.Scales), weights.Scales.LongLength * sizeof(float));
        graph.ExternalInitializer(name + ".zero_points", TensorDType.UInt8, [weights.ZeroPoints!.LongLength], weightsName, file.Append<byte>(weights.ZeroPoints), weights.ZeroPoints.LongLength);
        graph.Node(
            "MatMulNBits",
            [input, name, name + ".scales", name + ".zero_points"],
            [output],
            OnnxDomains.Microsoft,
            new NodeAttribute("K", matrix.Columns),
            new NodeAttribute("N", matrix.Rows),
            new NodeAttribute("bits", 4),
            new NodeAttribute("block_size", block),
            new NodeAttribute("accuracy_level", AccuracyLevel));
    }

    private static ActivationRange Range(IReadOnlyDictionary<string, ActivationRange> ranges, string tensor) =>
        ranges.TryGetValue(tensor, out var range) ? range : throw new ArgumentException($"No calibrated range for {tensor}: calibrate with the same configuration the QDQ graph is built from.");
}

/// <summary>A projection's input and output tensors in the graph, and its sizes (in → out).</summary>
public sealed record ProjectionActivations(string Input, string Output, int InFeatures, int OutFeatures);

/// <summary>One quantized projection: its name in the graph, shape [out, in], and weight SQNR in dB.</summary>
public sealed record ProjectionError(string Name, int Rows, int Columns, double SqnrDb);

/// <summary>Signal-to-quantization-noise ratio.</summary>
public static class Sqnr
{
    /// <summary>10·log10(Σx² / Σ(x − x̂)²) in dB; +∞ when exact.</summary>
    public static double Decibels(ReadOnlySpan<float> original, ReadOnlySpan<float> approximation)
    {
        double signal = 0, noise = 0;
        for (int i = 0; i < original.Length; i++)
        {
            signal += (double)original[i] * original[i];
            double d = original[i] - approximation[i];
            noise += d * d;
        }

        return noise == 0 ? double.PositiveInfinity : 10 * Math.Log10(signal / noise);
    }
}
