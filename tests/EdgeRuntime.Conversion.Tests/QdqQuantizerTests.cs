using EdgeRuntime.Conversion.Qdq;
using EdgeRuntime.Formats;
using EdgeRuntime.Onnx;
using EdgeRuntime.Protocol;
using Xunit.Abstractions;

namespace EdgeRuntime.Conversion.Tests;

/// <summary>
/// Static INT8 quantization to QDQ on a small convolutional network with seeded weights (Conv → BatchNormalization →
/// Relu → Conv → GlobalAveragePool → Flatten → Gemm): BatchNormalization folded, weights int8 per channel, activations
/// calibrated, and the result measured against the float model on samples it was not calibrated on.
/// </summary>
public sealed class QdqQuantizerTests(ITestOutputHelper output) : IDisposable
{
    private const int Channels = 3, Size = 16, Hidden = 8, Features = 6, Classes = 5;

    private readonly string _directory = Directory.CreateTempSubdirectory("edgeruntime-qdq-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static float[] Seeded(int count, float scale, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(_ => (float)((random.NextDouble() * 2) - 1) * scale)];
    }

    private static byte[] Network(int opset = 17, bool slice = false, long? spatial = null, float biasScale = 0.1f)
    {
        NodeAttribute[] norm = spatial is { } value ? [new("epsilon", Float: 1e-5f), new("spatial", value)] : [new("epsilon", Float: 1e-5f)];
        var builder = new OnnxModelBuilder(opset)
            .Input("x", TensorDType.Float32, 1, Channels, Size, Size)
            .Initializer("conv1.w", TensorDType.Float32, [Hidden, Channels, 3, 3], Seeded(Hidden * Channels * 9, 0.3f, 1).AsSpan())
            .Initializer("conv1.b", TensorDType.Float32, [Hidden], Seeded(Hidden, biasScale, 2).AsSpan())
            .Initializer("bn.scale", TensorDType.Float32, [Hidden], Seeded(Hidden, 0.5f, 3).Select(v => v + 1).ToArray().AsSpan())
            .Initializer("bn.bias", TensorDType.Float32, [Hidden], Seeded(Hidden, 0.2f, 4).AsSpan())
            .Initializer("bn.mean", TensorDType.Float32, [Hidden], Seeded(Hidden, 0.1f, 5).AsSpan())
            .Initializer("bn.var", TensorDType.Float32, [Hidden], Seeded(Hidden, 0.3f, 6).Select(v => v + 0.5f).ToArray().AsSpan())
            .Initializer("conv2.w", TensorDType.Float32, [Features, Hidden, 3, 3], Seeded(Features * Hidden * 9, 0.2f, 7).AsSpan())
            .Initializer("fc.w", TensorDType.Float32, [Classes, Features], Seeded(Classes * Features, 0.5f, 8).AsSpan())
            .Initializer("fc.b", TensorDType.Float32, [Classes], Seeded(Classes, 0.1f, 9).AsSpan())
            .Node("Conv", ["x", "conv1.w", "conv1.b"], ["c1"], "", new NodeAttribute("pads", Ints: [1, 1, 1, 1]))
            .Node("BatchNormalization", ["c1", "bn.scale", "bn.bias", "bn.mean", "bn.var"], ["n1"], "", norm)
            .Node("Relu", ["n1"], ["r1"])
            .Node("Conv", ["r1", "conv2.w"], ["c2"], "", new NodeAttribute("pads", Ints: [1, 1, 1, 1]))
            .Node("GlobalAveragePool", ["c2"], ["p"])
            .Node("Flatten", ["p"], ["f"]);
        if (slice)
        {
            // Opset 9's Slice keeps starts/ends/axes as attributes; opset 10 takes them as inputs.
            builder.Node("Slice", ["f"], ["fs"], "", new NodeAttribute("starts", Ints: [0]), new NodeAttribute("ends", Ints: [Features]), new NodeAttribute("axes", Ints: [1]))
                .Node("Gemm", ["fs", "fc.w", "fc.b"], ["y"], "", new NodeAttribute("transB", 1));
        }
        else
        {
            builder.Node("Gemm", ["f", "fc.w", "fc.b"], ["y"], "", new NodeAttribute("transB", 1));
        }

        return builder.Output("y", TensorDType.Float32, 1, Classes).Build();
    }

    private CalibrationSet Samples(int count)
    {
        string folder = Path.Combine(_directory, $"samples-{count}");
        Directory.CreateDirectory(folder);
        for (int i = 0; i < count; i++)
        {
            NpyFile.Write(Path.Combine(folder, $"{i:D2}.npy"), Tensor.Float32("x", [1, Channels, Size, Size], Seeded(Channels * Size * Size, 1f, 100 + i)));
        }

        return CalibrationSet.Load(folder, [new ModelInput("x", TensorDType.Float32, [1, Channels, Size, Size])]);
    }

    [Fact]
    public void A_conv_network_is_quantized_to_qdq_with_the_batch_norm_folded_and_stays_close_on_held_back_samples()
    {
        var samples = Samples(10);
        Assert.Equal((8, 2), (samples.Calibration.Count, samples.HeldBack.Count));
        var result = QdqQuantizer.Quantize(Network(), null, samples, new QdqOptions());

        Assert.Equal(1, result.FoldedBatchNorms);
        // conv1 → Relu → conv2 is a pair cross-layer equalization may rescale; it is kept only if it measured closer.
        string[] names = result.EqualizedPairs > 0 ? ["conv1.w.folded.equalized", "conv2.w.equalized", "fc.w"] : ["conv1.w.folded", "conv2.w", "fc.w"];
        Assert.Equal(names, result.Layers.Select(l => l.Weight));
        Assert.Equal((Channels * 9, Hidden), (result.Layers[0].K, result.Layers[0].N));
        Assert.All(result.Layers, l => Assert.InRange(l.SqnrDb, 35, 60));
        var nodes = OnnxModelSummary.Read(result.Model).Nodes;
        Assert.DoesNotContain(nodes, n => n.OpType == "BatchNormalization");
        // x, r1, c2, f: each layer's input and output has one Q/DQ pair, and each weight and bias its DQ. The first
        // Conv's output (n1, once the BatchNormalization is folded) is read only by the Relu, so r1 is quantized instead;
        // y is only a graph output, which nothing would read dequantized.
        Assert.Equal(4, result.QuantizedActivations);
        Assert.Equal(["c2", "f", "r1", "x"], nodes.Where(n => n.OpType == "QuantizeLinear").Select(n => n.Inputs[0]).Order(StringComparer.Ordinal));
        Assert.Equal(4 + 3 + 2, nodes.Count(n => n.OpType == "DequantizeLinear"));
        Assert.Null(ConvertedModelCheck.Problem(result.Model));
        long before = result.Layers.Sum(l => l.BytesBefore), after = result.Layers.Sum(l => l.BytesAfter);
        Assert.True(after < before * 0.4, $"weights {before} -> {after} bytes");

        var accuracy = result.Accuracy!;
        output.WriteLine($"int8: {accuracy.CalibrationSqnrDb:F1} dB calibration, {accuracy.HeldBackSqnrDb:F1} dB held back");
        // Measured 42.3 dB on the calibration samples and 34.9 dB held back: held-back values beyond the calibrated
        // ranges are clipped. (With full 8-bit weights ORT's x64 kernels without VNNI saturated it to 23-26 dB.)
        Assert.True(accuracy.HeldBackSqnrDb > 28, $"held-back SQNR {accuracy.HeldBackSqnrDb:F1} dB");
        Assert.All(Codes(result.Model, result.Layers[1].Weight + ".int8"), code => Assert.InRange(code, -63, 63));

        // 16-bit activations: the weights' error is what remains.
        var w8a16 = QdqQuantizer.Quantize(Network(), null, samples, new QdqOptions(ActivationBits: 16));
        output.WriteLine($"w8a16: {w8a16.Accuracy!.CalibrationSqnrDb:F1} dB calibration, {w8a16.Accuracy.HeldBackSqnrDb:F1} dB held back");
        // Measured 43.9 and 37.0 dB; its weights use the full 8-bit range.
        Assert.True(w8a16.Accuracy.HeldBackSqnrDb > 30, $"W8A16 held-back SQNR {w8a16.Accuracy.HeldBackSqnrDb:F1} dB");
        Assert.Contains(Codes(w8a16.Model, w8a16.Layers[1].Weight + ".int8"), code => Math.Abs(code) > 63);
        Assert.Null(ConvertedModelCheck.Problem(w8a16.Model));
    }

    [Fact]
    public void Percentile_calibration_narrows_a_range_an_outlier_stretches()
    {
        var samples = Samples(5);
        var minMax = QdqQuantizer.Quantize(Network(), null, samples, new QdqOptions());
        var percentile = QdqQuantizer.Quantize(Network(), null, samples, new QdqOptions(Method: CalibrationMethod.Percentile, Percentile: 99));
        float Scale(byte[] model) => Weights.TensorValue.Read(Initializer(model, "x.scale")).Floats(null)[0];
        Assert.True(Scale(percentile.Model) < Scale(minMax.Model), $"{Scale(percentile.Model)} vs {Scale(minMax.Model)}");
        Assert.Null(ConvertedModelCheck.Problem(percentile.Model));
    }

    private static sbyte[] Codes(byte[] model, string name) => (sbyte[])(Array)Weights.TensorValue.Read(Initializer(model, name)).RawBytes(null)!;

    private static byte[] Initializer(byte[] model, string name)
    {
        var reader = new ProtoReader(ProtoReader.FirstBytes(model, OnnxFields.Model.Graph));
        while (reader.Next())
        {
            if (reader.Is(OnnxFields.Graph.Initializer, WireType.LengthDelimited))
            {
                var tensor = reader.ReadBytes();
                if (ProtoReader.FirstString(tensor, OnnxFields.Tensor.Name) == name)
                {
                    return tensor.ToArray();
                }
            }
            else
            {
                reader.Skip();
            }
        }

        throw new KeyNotFoundException(name);
    }

    [Fact]
    public void A_model_below_opset_10_moves_to_10_with_its_Slice_rewritten_and_runs_fused()
    {
        var result = QdqQuantizer.Quantize(Network(opset: 9, slice: true), null, Samples(4), new QdqOptions());
        Assert.Equal(3, result.Layers.Count);
        Assert.Null(ConvertedModelCheck.Problem(result.Model));
        Assert.True(result.Accuracy!.CalibrationSqnrDb > 18, $"{result.Accuracy.CalibrationSqnrDb:F1} dB (measured 23.3)");
        // Below 13 the Q/DQ are ORT's com.microsoft ones, which take a per-channel axis at any opset.
        Assert.All(OnnxModelSummary.Read(result.Model).Nodes.Where(n => n.OpType is "QuantizeLinear" or "DequantizeLinear"), n => Assert.Equal("com.microsoft", n.Domain));
    }

    [Fact]
    public void Below_opset_10_TopK_takes_k_as_an_input_and_Upsample_is_refused_with_the_reason()
    {
        OnnxModelBuilder Head(string op, params NodeAttribute[] attributes) => new OnnxModelBuilder(opset: 9)
            .Input("x", TensorDType.Float32, 1, Channels, Size, Size)
            .Initializer("conv1.w", TensorDType.Float32, [Hidden, Channels, 3, 3], Seeded(Hidden * Channels * 9, 0.3f, 1).AsSpan())
            .Node("Conv", ["x", "conv1.w"], ["c1"])
            .Node("Flatten", ["c1"], ["f"])
            .Node(op, ["f"], op == "TopK" ? ["y", "indices"] : ["y"], "", attributes);
        byte[] topK = Head("TopK", new NodeAttribute("k", 3)).Output("y", TensorDType.Float32, 1, 3).Output("indices", TensorDType.Int64, 1, 3).Build();
        var result = QdqQuantizer.Quantize(topK, null, Samples(3), new QdqOptions());
        Assert.Null(ConvertedModelCheck.Problem(result.Model));
        Assert.True(result.Accuracy!.CalibrationSqnrDb > 20, $"{result.Accuracy.CalibrationSqnrDb:F1} dB");

        byte[] upsample = Head("Upsample", new NodeAttribute("scales", Ints: null)).Output("y", TensorDType.Float32).Build();
        Assert.Contains("Upsample", Assert.Throws<InvalidDataException>(() => QdqQuantizer.Quantize(upsample, null, Samples(3), new QdqOptions())).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_opset_9_model_with_nothing_to_quantize_comes_back_as_it_was_and_opset_5_is_refused()
    {
        OnnxModelBuilder Build(int opset) => new OnnxModelBuilder(opset)
            .Input("x", TensorDType.Float32, 1, 4)
            .Input("w", TensorDType.Float32, 4, 2)
            .Node("Slice", ["x"], ["s"], "", new NodeAttribute("starts", Ints: [0]), new NodeAttribute("ends", Ints: [4]), new NodeAttribute("axes", Ints: [1]))
            .Node("MatMul", ["s", "w"], ["y"])
            .Output("y", TensorDType.Float32, 1, 2);
        byte[] model = Build(9).Build();
        var samples = new CalibrationSet([new CalibrationSample("a", [Tensor.Float32("x", [1, 4], new float[4]), Tensor.Float32("w", [4, 2], new float[8])])], []);
        var result = QdqQuantizer.Quantize(model, null, samples, new QdqOptions());
        Assert.Empty(result.Layers);
        Assert.Equal(model, result.Model);
        string refusal = Assert.Throws<InvalidDataException>(() => QdqQuantizer.Quantize(Build(5).Build(), null, samples, new QdqOptions())).Message;
        Assert.Contains("opset 5", refusal, StringComparison.Ordinal);
        Assert.Contains("consumed_inputs", refusal, StringComparison.Ordinal);
    }

    /// <summary>
    /// Opset 8, as CNTK exported ML.NET's ResNet18: BatchNormalization still has its spatial attribute, which opset 9
    /// dropped. spatial=1 is what later opsets compute, so the model moves to 10; spatial=0 normalizes per activation,
    /// which no later opset does, and is refused naming the node.
    /// </summary>
    [Fact]
    public void An_opset_8_model_with_spatial_batch_norms_moves_to_10_and_spatial_0_is_refused()
    {
        var samples = Samples(4);
        var result = QdqQuantizer.Quantize(Network(opset: 8, spatial: 1), null, samples, new QdqOptions());
        Assert.Equal((3, 1), (result.Layers.Count, result.FoldedBatchNorms));
        Assert.Null(ConvertedModelCheck.Problem(result.Model));
        Assert.Equal(10, OnnxModelSummary.Read(result.Model).Opsets[""]);
        Assert.True(result.Accuracy!.CalibrationSqnrDb > 25, $"{result.Accuracy.CalibrationSqnrDb:F1} dB");

        string refusal = Assert.Throws<InvalidDataException>(() => QdqQuantizer.Quantize(Network(opset: 8, spatial: 0), null, samples, new QdqOptions())).Message;
        Assert.Contains("spatial=0", refusal, StringComparison.Ordinal);

        // At opset 6 a BatchNormalization without is_test=1 normalizes by the batch's own statistics: refused too.
        refusal = Assert.Throws<InvalidDataException>(() => QdqQuantizer.Quantize(Network(opset: 6), null, samples, new QdqOptions())).Message;
        Assert.Contains("training mode (is_test=0)", refusal, StringComparison.Ordinal);

        // Reading the inputs (the CLI's first step) gives the same reasons rather than ORT's failure to load an old op.
        byte[] AddAlong(int opset, params NodeAttribute[] attributes) => new OnnxModelBuilder(opset)
            .Input("x", TensorDType.Float32, 1, 3, 4, 4)
            .Initializer("b", TensorDType.Float32, [4], new float[] { 1, 2, 3, 4 }.AsSpan())
            .Node("Add", ["x", "b"], ["y"], "", attributes)
            .Output("y", TensorDType.Float32, 1, 3, 4, 4)
            .Build();
        refusal = Assert.Throws<InvalidDataException>(() => QdqQuantizer.InputsOf(AddAlong(6, new NodeAttribute("broadcast", 1), new NodeAttribute("axis", 1)), null)).Message;
        Assert.Contains("broadcasting along axis 1", refusal, StringComparison.Ordinal);
        Assert.Contains("consumed_inputs", Assert.Throws<InvalidDataException>(() => QdqQuantizer.InputsOf(AddAlong(5), null)).Message, StringComparison.Ordinal);
        Assert.Equal("x", Assert.Single(QdqQuantizer.InputsOf(AddAlong(6), null)).Name);
    }

    /// <summary>
    /// With 16-bit activations x_scale is about range/65535, so a large folded bias divided by x_scale·w_scale passes
    /// int32. The layer's weight scale is widened until it fits: the bias stays an int32 DequantizeLinear (a float bias
    /// would need ORT's own bias quantization, which inserts a Round that opset 10 does not have).
    /// </summary>
    [Fact]
    public void A_bias_too_large_for_int32_at_16_bit_activations_widens_its_weight_scale_instead_of_staying_float()
    {
        var samples = Samples(5);
        var result = QdqQuantizer.Quantize(Network(opset: 9, biasScale: 3000f), null, samples, new QdqOptions(ActivationBits: 16));
        Assert.Null(ConvertedModelCheck.Problem(result.Model));
        var nodes = OnnxModelSummary.Read(result.Model).Nodes;
        var producers = nodes.SelectMany(n => n.Outputs.Select(o => (Output: o, Node: n))).ToDictionary(p => p.Output, p => p.Node);
        foreach (var layer in nodes.Where(n => n.OpType is "Conv" or "Gemm" && n.Inputs.Count > 2))
        {
            Assert.Equal("DequantizeLinear", producers[layer.Inputs[2]].OpType);
        }

        // The first conv's bias is ~3000 against inputs in [-1, 1]: its int32 codes stay inside ±2^30.
        var codes = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, int>(Weights.TensorValue.Read(Initializer(result.Model, "n1.conv_bias.int32")).RawBytes(null)).ToArray();
        Assert.Equal(Hidden, codes.Length);
        Assert.All(codes, code => Assert.InRange(code, -(1 << 30), 1 << 30));
        Assert.True(result.Accuracy!.CalibrationSqnrDb > 30, $"{result.Accuracy.CalibrationSqnrDb:F1} dB");
    }

    /// <summary>
    /// A depthwise conv whose channel 0 is 60 times wider than the others feeds a pointwise conv, as in BlazeFace: per
    /// tensor, that one channel sets the 8-bit step for all. Equalization rescales the pair without changing what the
    /// float model computes, and the quantized model it gives is kept because it is closer to the float one.
    /// </summary>
    [Fact]
    public void Cross_layer_equalization_keeps_the_float_function_and_is_kept_when_it_quantizes_better()
    {
        const int c = 8;
        float[] depthwise = Seeded(c * 9, 0.3f, 21);
        for (int i = 0; i < 9; i++)
        {
            depthwise[i] *= 60;
        }

        byte[] model = new OnnxModelBuilder(13)
            .Input("x", TensorDType.Float32, 1, c, Size, Size)
            .Initializer("dw.w", TensorDType.Float32, [c, 1, 3, 3], depthwise.AsSpan())
            .Initializer("pw.w", TensorDType.Float32, [c, c, 1, 1], Seeded(c * c, 0.4f, 22).AsSpan())
            .Initializer("pw.b", TensorDType.Float32, [c], Seeded(c, 0.1f, 23).AsSpan())
            .Node("Conv", ["x", "dw.w"], ["d"], "", new NodeAttribute("group", c), new NodeAttribute("pads", Ints: [1, 1, 1, 1]))
            .Node("Conv", ["d", "pw.w", "pw.b"], ["p"])
            .Node("Relu", ["p"], ["r"])
            .Node("GlobalAveragePool", ["r"], ["y"])
            .Output("y", TensorDType.Float32, 1, c, 1, 1)
            .Build();
        string folder = Path.Combine(_directory, "equalize");
        Directory.CreateDirectory(folder);
        for (int i = 0; i < 6; i++)
        {
            NpyFile.Write(Path.Combine(folder, $"{i}.npy"), Tensor.Float32("x", [1, c, Size, Size], Seeded(c * Size * Size, 1f, 200 + i)));
        }

        var samples = CalibrationSet.Load(folder, [new ModelInput("x", TensorDType.Float32, [1, c, Size, Size])]);

        // The rescaled float model computes what the original does.
        var graph = EditableGraph.Parse(ProtoReader.FirstBytes(model, OnnxFields.Model.Graph), null);
        var catalog = new Weights.WeightCatalog(graph.Initializers, [.. graph.Nodes.Select(n => n.Proto)], graph.FedInputs, null);
        Assert.Equal(1, ChannelEqualization.Equalize(graph, catalog, model, samples.Calibration));
        graph.DropUnread();
        byte[] equalized = ModelGraph.Replace(model, graph.Write());
        using (var before = new SampleRunner(model))
        using (var after = new SampleRunner(equalized))
        {
            float[] a = before.Run(samples.HeldBack[0], ["y"])[0], b = after.Run(samples.HeldBack[0], ["y"])[0];
            Assert.All(a.Zip(b), p => Assert.Equal(p.First, p.Second, 1e-3f * MathF.Max(1, MathF.Abs(p.First))));
        }

        var result = QdqQuantizer.Quantize(model, null, samples, new QdqOptions());
        output.WriteLine($"equalized pairs {result.EqualizedPairs}: {result.Accuracy!.CalibrationSqnrDb:F1} dB vs {result.OtherCandidateCalibrationSqnrDb:F1} dB without");
        Assert.Equal(1, result.EqualizedPairs);
        Assert.True(result.Accuracy.CalibrationSqnrDb > result.OtherCandidateCalibrationSqnrDb + 3, $"{result.Accuracy.CalibrationSqnrDb:F1} vs {result.OtherCandidateCalibrationSqnrDb:F1} dB");
        Assert.Null(ConvertedModelCheck.Problem(result.Model));
    }

    [Fact]
    public void Calibration_samples_that_do_not_fit_the_input_are_refused_naming_it_and_its_shape()
    {
        string folder = Path.Combine(_directory, "wrong");
        Directory.CreateDirectory(folder);
        NpyFile.Write(Path.Combine(folder, "a.npy"), Tensor.Float32("x", [1, 3, 8, 8], new float[3 * 64]));
        var error = Assert.Throws<InvalidDataException>(() => CalibrationSet.Load(folder, [new ModelInput("x", TensorDType.Float32, [1, Channels, Size, Size])]));
        Assert.Contains("is float32 [1,3,8,8], but input 'x' takes float32 [1, 3, 16, 16]", error.Message, StringComparison.Ordinal);

        var twoInputs = Assert.Throws<InvalidDataException>(() => CalibrationSet.Load(folder, [new ModelInput("a", TensorDType.Float32, [-1]), new ModelInput("b", TensorDType.Float32, [-1])]));
        Assert.Contains("one sub-folder", twoInputs.Message.Replace("a sub-folder", "one sub-folder", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Contains("does not exist", Assert.Throws<InvalidDataException>(() => CalibrationSet.Load(Path.Combine(_directory, "none"), [])).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_model_without_a_quantizable_layer_is_returned_unchanged_with_the_reasons()
    {
        byte[] model = new OnnxModelBuilder()
            .Input("x", TensorDType.Float32, 1, 4)
            .Input("w", TensorDType.Float32, 4, 2)
            .Node("MatMul", ["x", "w"], ["y"])
            .Output("y", TensorDType.Float32, 1, 2)
            .Build();
        string folder = Path.Combine(_directory, "two-inputs");
        Directory.CreateDirectory(Path.Combine(folder, "s0"));
        NpyFile.Write(Path.Combine(folder, "s0", "x.npy"), Tensor.Float32("x", [1, 4], new float[4]));
        NpyFile.Write(Path.Combine(folder, "s0", "w.npy"), Tensor.Float32("w", [4, 2], new float[8]));
        var result = ModelConverter.Convert(model, new ConversionOptions(ConversionTarget.Int8) { Calibration = folder });
        Assert.Empty(result.Layers);
        Assert.Equal(model, result.Model);
        Assert.EndsWith("its weights 'w' are a graph input fed at run time, not a constant", Assert.Single(result.Skipped), StringComparison.Ordinal);
    }
}
