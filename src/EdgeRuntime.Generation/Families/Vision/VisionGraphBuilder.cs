using EdgeRuntime.Generation.Folder;
using EdgeRuntime.Onnx;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Generation.Families.Vision;

/// <summary>
/// Builds the image encoder graph of a vision-language folder: <c>pixel_values</c> float32 [1, C, H, W] in [0, 1] →
/// Conv + Relu per layer → AveragePool → the pool's cells as tokens [1, K, channels] → MatMul + Add, Relu, MatMul + Add
/// → <c>image_embeds</c> [1, K, hidden]. Every shape is fixed (batch 1), so an NPU can compile it as it stands.
/// In float32, or as W8A16 QDQ with calibrated activation ranges:
/// <list type="bullet">
/// <item>weights int8, symmetric, one scale per output channel (per-axis DequantizeLinear, which QNN takes directly);</item>
/// <item>biases int32 with scale = input scale × that channel's weight scale, so an integer accelerator adds them to its
/// int32 accumulator as they are (the standard QDQ form for Conv and MatMul + Add);</item>
/// <item>activations uint16 (QuantizeLinear/DequantizeLinear pairs) after the input and after each layer's ReLU, the
/// pool, the projector's ReLU and its output.</item>
/// </list>
/// The weights are inline: the encoder is a few hundred KB.
/// </summary>
public static class VisionGraphBuilder
{
    public const string PixelValues = "pixel_values";
    public const string ImageEmbeds = "image_embeds";

    /// <param name="ranges">Calibrated ranges of the activations a W8A16 graph quantizes (the input, each layer's ReLU, the pool, the projector's ReLU and output); null builds the float32 graph.</param>
    /// <param name="exposeActivations">Adds every activation as a graph output (a calibration graph; float32 only).</param>
    /// <param name="errors">Receives each layer's weight SQNR (W8A16 only).</param>
    public static OnnxModelBuilder Build(VisionSettings settings, int hidden, VisionWeights weights, IReadOnlyDictionary<string, ActivationRange>? ranges, bool exposeActivations = false, List<ProjectionError>? errors = null)
    {
        int tokens = settings.ImageTokens;
        var graph = new OnnxModelBuilder(opset: 21, graphName: "vision_encoder")
            .Input(PixelValues, TensorDType.Float32, 1, settings.Channels, settings.ImageHeight, settings.ImageWidth)
            .Output(ImageEmbeds, TensorDType.Float32, 1, tokens, hidden);

        string Activation(string tensor, string? output = null)
        {
            if (ranges is null)
            {
                if (output is not null)
                {
                    graph.Node("Identity", [tensor], [output]);
                }

                return output ?? tensor;
            }

            return QdqProjection.QuantizeDequantize(graph, tensor, tensor + ".qdq", Range(ranges, tensor), output);
        }

        float InputScale(string tensor) => ranges is null ? 0 : QdqProjection.Parameters(Range(ranges, tensor)).Scale;

        string x = Activation(PixelValues);
        string xName = PixelValues;
        var shapes = new List<(string Name, Dim[] Shape)>();
        int height = settings.ImageHeight, width = settings.ImageWidth;
        for (int i = 0; i < weights.Layers.Length; i++)
        {
            var layer = weights.Layers[i];
            string p = $"layers.{i}";
            long[] weightShape = [layer.OutChannels, layer.InChannels / layer.Groups, layer.KernelSize, layer.KernelSize];
            var (w, b) = Parameters(graph, p, layer.Weight, weightShape, layer.Bias, ranges is null ? null : InputScale(xName), axis: 0, errors);
            int pad = layer.KernelSize / 2;
            graph.Node("Conv", [x, w, b], [p + ".conv"], OnnxDomains.Default,
                new NodeAttribute("group", Int: layer.Groups),
                new NodeAttribute("kernel_shape", Ints: [layer.KernelSize, layer.KernelSize]),
                new NodeAttribute("pads", Ints: [pad, pad, pad, pad]),
                new NodeAttribute("strides", Ints: [layer.Stride, layer.Stride]))
                .Node("Relu", [p + ".conv"], [LayerOutput(i)]);
            xName = LayerOutput(i);
            x = Activation(xName);
            height = ((height + (2 * pad) - layer.KernelSize) / layer.Stride) + 1;
            width = ((width + (2 * pad) - layer.KernelSize) / layer.Stride) + 1;
            shapes.Add((xName, [1, layer.OutChannels, height, width]));
        }

        graph.Node("AveragePool", [x], ["pool"], OnnxDomains.Default,
            new NodeAttribute("kernel_shape", Ints: [weights.PoolKernel, weights.PoolKernel]),
            new NodeAttribute("strides", Ints: [weights.PoolStride, weights.PoolStride]));
        string pooled = Activation("pool");
        int poolHeight = ((height - weights.PoolKernel) / weights.PoolStride) + 1, poolWidth = ((width - weights.PoolKernel) / weights.PoolStride) + 1;
        if (poolHeight * poolWidth != tokens)
        {
            throw new ArgumentException($"The encoder's pool leaves {poolHeight}×{poolWidth} cells from a {settings.ImageHeight}×{settings.ImageWidth} image, but the folder says {tokens} image tokens.");
        }

        shapes.Add(("pool", [1, weights.Channels, poolHeight, poolWidth]));
        shapes.Add(("projector.hidden", [1, tokens, weights.Projector1.Rows]));

        // The pool's cells, row by row, are the image tokens: [1, C, s, s] → [1, C, K] → [1, K, C].
        graph.Initializer("tokens.shape", TensorDType.Int64, [3], [1L, weights.Channels, tokens])
            .Node("Reshape", [pooled, "tokens.shape"], ["tokens.channels_first"])
            .Node("Transpose", ["tokens.channels_first"], ["tokens"], OnnxDomains.Default, new NodeAttribute("perm", Ints: [0, 2, 1]));

        var (w1, b1) = Parameters(graph, "projector.linear_1", weights.Projector1.Transposed(), [weights.Projector1.Columns, weights.Projector1.Rows], weights.Projector1Bias, ranges is null ? null : InputScale("pool"), axis: 1, errors);
        graph.Node("MatMul", ["tokens", w1], ["projector.linear_1.y"])
            .Node("Add", ["projector.linear_1.y", b1], ["projector.linear_1.out"])
            .Node("Relu", ["projector.linear_1.out"], ["projector.hidden"]);
        string projected = Activation("projector.hidden");
        var (w2, b2) = Parameters(graph, "projector.linear_2", weights.Projector2.Transposed(), [weights.Projector2.Columns, weights.Projector2.Rows], weights.Projector2Bias, ranges is null ? null : InputScale("projector.hidden"), axis: 1, errors);
        graph.Node("MatMul", [projected, w2], ["projector.linear_2.y"])
            .Node("Add", ["projector.linear_2.y", b2], [ranges is null ? ImageEmbeds : "image_embeds.float"]);
        if (ranges is not null)
        {
            QdqProjection.QuantizeDequantize(graph, "image_embeds.float", ImageEmbeds + ".qdq", Range(ranges, ImageEmbeds), ImageEmbeds);
        }

        if (exposeActivations)
        {
            foreach (var (name, shape) in shapes)
            {
                graph.Output(name, TensorDType.Float32, shape);
            }
        }

        return graph;
    }

    private static string LayerOutput(int layer) => $"layers.{layer}.relu";

    private static ActivationRange Range(IReadOnlyDictionary<string, ActivationRange> ranges, string tensor) =>
        ranges.TryGetValue(tensor, out var range) ? range : throw new ArgumentException($"No calibrated range for the vision encoder's {tensor}: calibrate with the same weights the W8A16 graph is built from.");

    /// <summary>
    /// The weight and bias as initializers: float32, or (with <paramref name="inputScale"/>) int8 per channel along
    /// <paramref name="axis"/> and int32 biases, each behind a DequantizeLinear. Returns the tensors the node reads.
    /// </summary>
    private static (string Weight, string Bias) Parameters(OnnxModelBuilder graph, string name, float[] weight, long[] shape, float[] bias, float? inputScale, int axis, List<ProjectionError>? errors)
    {
        int channels = (int)shape[axis];
        if (inputScale is not { } scaleIn)
        {
            graph.Initializer(name + ".weight", TensorDType.Float32, shape, weight.AsSpan())
                .Initializer(name + ".bias", TensorDType.Float32, [channels], bias.AsSpan());
            return (name + ".weight", name + ".bias");
        }

        var (codes, scales, dequantized) = PerChannelInt8(weight, shape, axis);
        errors?.Add(new ProjectionError(name, channels, weight.Length / channels, Sqnr.Decibels(weight, dequantized)));
        var biasCodes = new int[channels];
        var biasScales = new float[channels];
        for (int c = 0; c < channels; c++)
        {
            biasScales[c] = scaleIn * scales[c];
            biasCodes[c] = (int)Math.Clamp(Math.Round(bias[c] / (double)biasScales[c]), int.MinValue, int.MaxValue);
        }

        graph.Initializer(name + ".weight.int8", TensorDType.Int8, shape, codes.AsSpan())
            .Initializer(name + ".weight.scales", TensorDType.Float32, [channels], scales.AsSpan())
            .Node("DequantizeLinear", [name + ".weight.int8", name + ".weight.scales"], [name + ".weight"], OnnxDomains.Default, new NodeAttribute("axis", Int: axis))
            .Initializer(name + ".bias.int32", TensorDType.Int32, [channels], biasCodes.AsSpan())
            .Initializer(name + ".bias.scales", TensorDType.Float32, [channels], biasScales.AsSpan())
            .Node("DequantizeLinear", [name + ".bias.int32", name + ".bias.scales"], [name + ".bias"], OnnxDomains.Default, new NodeAttribute("axis", Int: 0));
        return (name + ".weight", name + ".bias");
    }

    /// <summary>Symmetric int8 codes with one scale per index of <paramref name="axis"/> (largest |w| → 127), and their dequantized values.</summary>
    private static (sbyte[] Codes, float[] Scales, float[] Dequantized) PerChannelInt8(float[] weight, long[] shape, int axis)
    {
        int channels = (int)shape[axis];
        long inner = 1;
        for (int d = axis + 1; d < shape.Length; d++)
        {
            inner *= shape[d];
        }

        int Channel(long index) => (int)(index / inner % channels);
        var largest = new float[channels];
        for (long i = 0; i < weight.LongLength; i++)
        {
            largest[Channel(i)] = MathF.Max(largest[Channel(i)], MathF.Abs(weight[i]));
        }

        var scales = largest.Select(m => m > 0 ? m / sbyte.MaxValue : 1f).ToArray();
        var codes = new sbyte[weight.LongLength];
        var dequantized = new float[weight.LongLength];
        for (long i = 0; i < weight.LongLength; i++)
        {
            float scale = scales[Channel(i)];
            int code = Math.Clamp((int)MathF.Round(weight[i] / scale), -sbyte.MaxValue, sbyte.MaxValue);
            codes[i] = (sbyte)code;
            dequantized[i] = code * scale;
        }

        return (codes, scales, dequantized);
    }
}
