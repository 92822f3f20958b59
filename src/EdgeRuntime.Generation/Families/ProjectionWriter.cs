using EdgeRuntime.Generation.Families.Lfm2;
using EdgeRuntime.Generation.Folder;
using EdgeRuntime.Kernels.LowBit;
using EdgeRuntime.Onnx;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Generation.Families;

/// <summary>
/// Writes a float family's projections y = x·Wᵀ in the folder's <see cref="LanguageModelConfig.ProjectionFormat"/>:
/// a float32 MatMul over Wᵀ, or MatMulNBits over 4-bit blocks. Records each quantized projection's error
/// (<see cref="Errors"/>) for the import report.
/// </summary>
internal sealed class ProjectionWriter(OnnxModelBuilder graph, WeightFileWriter file, string weightsName, LanguageModelConfig config)
{
    /// <summary>Accuracy level 4: MatMulNBits quantizes the activations to int8 per block and runs integer dot products.</summary>
    private const int AccuracyLevel = 4;

    public List<ProjectionError> Errors { get; } = [];

    /// <summary>
    /// A projection's int4 weights as the folder stores them: asymmetric (a zero point per block), each block's range and
    /// scale searched for the least squared error rather than taken from its extremes. On the trained LFM2 (tools/lfm2,
    /// block 32) the logits' SQNR against the float model went 26.8 dB (symmetric, from the largest weight) → 27.3
    /// (symmetric, searched) → 28.2 (asymmetric) → 28.7 dB (asymmetric, searched and refit); 30.1 dB at block 16. (Measured
    /// with the kernel computing in float; with its int8 activations, as the engine runs it: 28.6 and 30.0 dB.)
    /// </summary>
    public static NBitsWeights Quantize(DenseMatrix matrix, int block) =>
        NBitsWeights.Quantize(matrix.Values, new NBitsShape(matrix.Rows, matrix.Columns, 4, block), zeroPoints: true, searchScale: true);

    public void Linear(string input, string name, DenseMatrix matrix, string output)
    {
        if (config.Projections == ProjectionFormats.Float32)
        {
            var transposed = matrix.Transposed();
            graph.ExternalInitializer(name, TensorDType.Float32, [matrix.Columns, matrix.Rows], weightsName, file.Append<float>(transposed), transposed.LongLength * sizeof(float));
            graph.Node("MatMul", [input, name], [output]);
            return;
        }

        int block = config.ProjectionBlockSize ?? throw new ArgumentException("int4 projections need projectionBlockSize");
        var shape = new NBitsShape(matrix.Rows, matrix.Columns, 4, block);
        var weights = Quantize(matrix, block);
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
}

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
