using EdgeRuntime.Generation.Families.Lfm2;
using EdgeRuntime.Generation.Folder;
using EdgeRuntime.Onnx;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Generation.Families;

/// <summary>
/// A projection as QDQ, W4A16, the form QNN's HTP runs as integer arithmetic:
/// <c>Q/DQ(x; uint16) → MatMul(·, DQ(W; int4, blocked)) → Q/DQ(y; uint16)</c>.
/// <list type="bullet">
/// <item>Weights: Wᵀ [in, out] as signed int4, symmetric (zero point 0), one scale per block of <c>block</c> inputs per
/// output. The block scales are themselves stored as uint8 codes times one float scale per output, dequantized by a
/// DequantizeLinear of their own: the low-power blockwise quantization (LPBQ) layout, the one blocked form QNN's
/// provider fuses into an HTP MatMul (a plain blocked DequantizeLinear falls back to the CPU there). Each block's scale is
/// searched for the least squared error, then rounded to its uint8 code (the neighbouring codes tried too); the weights
/// are rounded against it with GPTQ's error feedback over the calibration activations (<see cref="GptqRounding"/>).</item>
/// <item>Activations: uint16 over the calibrated range, widened to hold 0 (so zero is exact). The ranges come from
/// running the float graph over text (<see cref="Lfm2.ActivationCalibration"/>); the scale and zero point are constants
/// in the graph, as a static quantizer needs.</item>
/// </list>
/// </summary>
internal static class QdqProjection
{
    private const int Levels = ushort.MaxValue;
    private const int ScaleLevels = byte.MaxValue;

    /// <param name="inputGram">The Gram matrix of the projection's inputs over the calibration text ([in, in]); with it the
    /// weights are rounded by <see cref="GptqRounding"/>, without it each to its nearest code.</param>
    public static ProjectionError Write(OnnxModelBuilder graph, WeightFileWriter file, string weightsName, string input, string name, DenseMatrix matrix, string output, int block, ActivationRange inputRange, ActivationRange outputRange, double[]? inputGram)
    {
        var weights = LowPowerBlockWeights.Quantize(matrix, block, inputGram is null ? null : GptqRounding.FromGram(inputGram, matrix.Columns));
        graph.ExternalInitializer(name + ".int4", OnnxDataType.Int4, [matrix.Columns, matrix.Rows], weightsName, file.Append<byte>(weights.Codes), weights.Codes.LongLength)
            .ExternalInitializer(name + ".scale_codes", TensorDType.UInt8, [weights.Blocks, matrix.Rows], weightsName, file.Append<byte>(weights.ScaleCodes), weights.ScaleCodes.LongLength)
            .ExternalInitializer(name + ".channel_scales", TensorDType.Float32, [matrix.Rows], weightsName, file.Append<float>(weights.ChannelScales), weights.ChannelScales.LongLength * sizeof(float))
            .Node("DequantizeLinear", [name + ".scale_codes", name + ".channel_scales"], [name + ".block_scales"], OnnxDomains.Default, new NodeAttribute("axis", Int: 1))
            .Node("DequantizeLinear", [name + ".int4", name + ".block_scales"], [name + ".w"], OnnxDomains.Default, new NodeAttribute("axis", Int: 0), new NodeAttribute("block_size", Int: block));
        string quantizedInput = QuantizeDequantize(graph, input, name + ".in", inputRange);
        graph.Node("MatMul", [quantizedInput, name + ".w"], [name + ".y"]);
        QuantizeDequantize(graph, name + ".y", name + ".out", outputRange, output);
        return new ProjectionError(name, matrix.Rows, matrix.Columns, Sqnr.Decibels(matrix.Values, weights.Dequantize()));
    }

    /// <summary>
    /// The head (the tied embedding as a projection) in QDQ with int8 weights, one symmetric scale per output (per-axis
    /// DequantizeLinear, which QNN takes directly): the vocabulary-sized matrix is where 4-bit weights cost the logits most.
    /// </summary>
    public static ProjectionError WriteInt8(OnnxModelBuilder graph, WeightFileWriter file, string weightsName, string input, string name, DenseMatrix matrix, string output, ActivationRange inputRange, ActivationRange outputRange)
    {
        int rows = matrix.Rows, columns = matrix.Columns;
        var scales = new float[rows];
        var codes = new sbyte[(long)rows * columns];
        var dequantized = new float[(long)rows * columns];
        for (int n = 0; n < rows; n++)
        {
            var row = matrix.Values.AsSpan(n * columns, columns);
            float largest = 0;
            foreach (float v in row)
            {
                largest = MathF.Max(largest, MathF.Abs(v));
            }

            float scale = largest > 0 ? largest / sbyte.MaxValue : 1f;
            scales[n] = scale;
            for (int k = 0; k < columns; k++)
            {
                int code = Math.Clamp((int)MathF.Round(row[k] / scale), -sbyte.MaxValue, sbyte.MaxValue);
                codes[((long)k * rows) + n] = (sbyte)code;
                dequantized[((long)n * columns) + k] = code * scale;
            }
        }

        graph.ExternalInitializer(name + ".int8", TensorDType.Int8, [columns, rows], weightsName, file.Append<sbyte>(codes), codes.LongLength)
            .ExternalInitializer(name + ".scales", TensorDType.Float32, [rows], weightsName, file.Append<float>(scales), scales.LongLength * sizeof(float))
            .Node("DequantizeLinear", [name + ".int8", name + ".scales"], [name + ".w"], OnnxDomains.Default, new NodeAttribute("axis", Int: 1));
        string quantizedInput = QuantizeDequantize(graph, input, name + ".in", inputRange);
        graph.Node("MatMul", [quantizedInput, name + ".w"], [name + ".y"]);
        QuantizeDequantize(graph, name + ".y", name + ".out", outputRange, output);
        return new ProjectionError(name, rows, columns, Sqnr.Decibels(matrix.Values, dequantized));
    }

    /// <summary>The uint16 scale and zero point for values in <paramref name="range"/>, widened to include 0.</summary>
    public static (float Scale, ushort ZeroPoint) Parameters(ActivationRange range)
    {
        float min = MathF.Min(range.Min, 0), max = MathF.Max(range.Max, 0);
        float scale = (max - min) / Levels;
        if (!(scale > 0) || !float.IsFinite(scale))
        {
            // A tensor that was always 0 (or never seen finite): any scale represents it.
            return (1f / Levels, 0);
        }

        return (scale, (ushort)Math.Clamp(MathF.Round(-min / scale), 0, Levels));
    }

    internal static string QuantizeDequantize(OnnxModelBuilder graph, string tensor, string prefix, ActivationRange range, string? output = null)
    {
        var (scale, zeroPoint) = Parameters(range);
        output ??= prefix + "_dq";
        graph.Initializer(prefix + "_scale", TensorDType.Float32, [], [scale])
            .Initializer(prefix + "_zero_point", TensorDType.UInt16, [], [zeroPoint])
            .Node("QuantizeLinear", [tensor, prefix + "_scale", prefix + "_zero_point"], [prefix + "_q"])
            .Node("DequantizeLinear", [prefix + "_q", prefix + "_scale", prefix + "_zero_point"], [output]);
        return output;
    }

    /// <summary>
    /// Int4 weights of Wᵀ [in, out] (ONNX int4: row-major, two to a byte, the first in the low nibble), their block
    /// scales as uint8 codes [blocks, out], and one float scale per output: block scale = code · channel scale.
    /// </summary>
    private sealed record LowPowerBlockWeights(byte[] Codes, byte[] ScaleCodes, float[] ChannelScales, int Rows, int Columns, int Block)
    {
        /// <summary>Scale codes tried either side of the rounded one.</summary>
        private const int CodeSearch = 3;

        public int Blocks => (Columns + Block - 1) / Block;

        /// <param name="gptq">Rounds each row with GPTQ's error feedback; null rounds each weight to its nearest code.</param>
        public static LowPowerBlockWeights Quantize(DenseMatrix matrix, int block, GptqRounding? gptq)
        {
            int rows = matrix.Rows, columns = matrix.Columns;
            int blocks = (columns + block - 1) / block;
            var scaleCodes = new byte[(long)blocks * rows];
            var channelScales = new float[rows];
            var codes = new byte[(((long)rows * columns) + 1) / 2];
            var blockScales = new float[blocks];
            var row = new float[columns];
            for (int n = 0; n < rows; n++)
            {
                // The row's scale of scales from the largest of its blocks' best scales (on the float weights).
                matrix.Values.AsSpan(n * columns, columns).CopyTo(row);
                for (int b = 0; b < blocks; b++)
                {
                    blockScales[b] = BestScale(Slice(row, b, block));
                }

                float largest = blockScales.Max();
                float channel = largest > 0 ? largest / ScaleLevels : 1f;
                channelScales[n] = channel;

                // Each block's scale code is chosen from the block's weights as they stand when it is reached (GPTQ has
                // moved them by then): the searched scale rounded to a code, and its neighbours tried.
                void ChooseCode(int b, ReadOnlySpan<float> current)
                {
                    var values = Slice(current, b, block);
                    int rounded = Math.Clamp((int)MathF.Round(BestScale(values) / channel), 1, ScaleLevels);
                    int best = rounded;
                    double bestError = double.MaxValue;
                    for (int candidate = Math.Max(1, rounded - CodeSearch); candidate <= Math.Min(ScaleLevels, rounded + CodeSearch); candidate++)
                    {
                        double error = SquaredError(values, candidate * channel);
                        if (error < bestError)
                        {
                            bestError = error;
                            best = candidate;
                        }
                    }

                    scaleCodes[((long)b * rows) + n] = (byte)best;
                    blockScales[b] = best * channel;
                }

                float RoundToCode(int k, float value)
                {
                    float scale = blockScales[k / block];
                    return Math.Clamp(MathF.Round(value / scale), -8, 7) * scale;
                }

                if (gptq is null)
                {
                    for (int b = 0; b < blocks; b++)
                    {
                        ChooseCode(b, row);
                    }

                    for (int k = 0; k < columns; k++)
                    {
                        row[k] = RoundToCode(k, row[k]);
                    }
                }
                else
                {
                    gptq.Round(row, block, ChooseCode, RoundToCode);
                }

                for (int k = 0; k < columns; k++)
                {
                    int value = Math.Clamp((int)MathF.Round(row[k] / blockScales[k / block]), -8, 7);
                    long index = ((long)k * rows) + n;
                    codes[index / 2] |= (byte)((value & 0xF) << (int)((index % 2) * 4));
                }
            }

            return new LowPowerBlockWeights(codes, scaleCodes, channelScales, rows, columns, block);
        }

        /// <summary>The float weights the codes stand for, [out, in] like the matrix they came from.</summary>
        public float[] Dequantize()
        {
            var w = new float[(long)Rows * Columns];
            for (int n = 0; n < Rows; n++)
            {
                for (int k = 0; k < Columns; k++)
                {
                    long index = ((long)k * Rows) + n;
                    int nibble = (Codes[index / 2] >> (int)((index % 2) * 4)) & 0xF;
                    int value = nibble >= 8 ? nibble - 16 : nibble;
                    w[((long)n * Columns) + k] = value * ScaleCodes[((long)(k / Block) * Rows) + n] * ChannelScales[n];
                }
            }

            return w;
        }

        /// <summary>
        /// The symmetric scale with the least (weighted) squared error among max|w| / 7 times 1, 0.975, …, 0.6 (the
        /// largest weight on the top code, or clipped for a finer grid for the rest) and max|w| / 8 (on the bottom code).
        /// </summary>
        private static float BestScale(ReadOnlySpan<float> values)
        {
            float max = 0;
            foreach (float v in values)
            {
                max = MathF.Max(max, MathF.Abs(v));
            }

            if (max == 0)
            {
                return 0;
            }

            float best = max / 7;
            double bestError = double.MaxValue;
            for (int step = 0; step <= 17; step++)
            {
                float scale = step == 17 ? max / 8 : max / 7 * (1 - (0.025f * step));
                double error = SquaredError(values, scale);
                if (error < bestError)
                {
                    bestError = error;
                    best = scale;
                }
            }

            return best;
        }

        private static double SquaredError(ReadOnlySpan<float> values, float scale)
        {
            double sum = 0;
            for (int i = 0; i < values.Length; i++)
            {
                float v = values[i];
                double d = v - (Math.Clamp(MathF.Round(v / scale), -8, 7) * scale);
                sum += d * d;
            }

            return sum;
        }

        /// <summary>Block <paramref name="block"/> of a row.</summary>
        private static ReadOnlySpan<float> Slice(ReadOnlySpan<float> row, int block, int size) =>
            row.Slice(block * size, Math.Min(size, row.Length - (block * size)));
    }
}

/// <summary>The smallest and largest value a tensor took over the calibration text.</summary>
public readonly record struct ActivationRange(float Min, float Max)
{
    public ActivationRange Including(ActivationRange other) => new(MathF.Min(Min, other.Min), MathF.Max(Max, other.Max));

    /// <summary>The extremes of <paramref name="values"/>.</summary>
    public static ActivationRange Of(ReadOnlySpan<float> values)
    {
        float min = float.PositiveInfinity, max = float.NegativeInfinity;
        foreach (float v in values)
        {
            min = MathF.Min(min, v);
            max = MathF.Max(max, v);
        }

        return new ActivationRange(min, max);
    }
}
