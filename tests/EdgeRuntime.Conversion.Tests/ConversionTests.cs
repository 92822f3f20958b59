using EdgeRuntime.Inference;
using EdgeRuntime.Inference.Onnx;
using EdgeRuntime.Kernels.LowBit;
using EdgeRuntime.Kernels.Ternary;
using EdgeRuntime.Onnx;
using EdgeRuntime.Conversion;
using Microsoft.ML.OnnxRuntime;
using EdgeRuntime.TestModels;

namespace EdgeRuntime.Conversion.Tests;

/// <summary>The model conversion (edge-convert): float MatMul layers packed into INT4 MatMulNBits or ternary BitLinear.</summary>
public sealed class ConversionTests
{
    private const int Inputs = 64, Hidden = 96, Outputs = 10;

    private static float[] Run(byte[] model, float[] x, int rows) => RunK(model, x, rows, Inputs);

    private static float[] Input(int rows) => [.. Enumerable.Range(0, rows * Inputs).Select(i => MathF.Sin(i * 0.7f))];

    [Theory]
    [InlineData(32, true)]
    [InlineData(64, false)]
    public void Int4_conversion_packs_every_MatMul_reports_its_error_and_tracks_the_float_model(int block, bool zeroPoints)
    {
        byte[] original = SampleModels.Mlp(Inputs, Hidden, Outputs, seed: 5);
        var result = ModelConverter.Convert(original, new ConversionOptions(ConversionTarget.Int4, block, zeroPoints, AccuracyLevel: 0));

        Assert.Equal(["w1", "w2"], result.Layers.Select(l => l.Weight));
        Assert.Empty(result.Skipped);
        var summary = OnnxModelSummary.Read(result.Model);
        Assert.Equal(2, summary.Nodes.Count(n => n.OpType == "MatMulNBits" && n.Domain == "com.microsoft"));
        Assert.DoesNotContain(summary.Nodes, n => n.OpType == "MatMul");
        Assert.True(result.ModelBytesAfter < result.ModelBytesBefore / 4, $"{result.ModelBytesBefore} -> {result.ModelBytesAfter}");

        // The reported SQNR is the weights' own: recompute it from the same quantization.
        var first = result.Layers[0];
        Assert.Equal((Inputs, Hidden, Inputs * Hidden * 4L), (first.K, first.N, first.BytesBefore));
        Assert.InRange(first.SqnrDb, 15, 40);

        // And the converted model computes nearly what the float one does.
        var x = Input(4);
        var exact = Run(original, x, 4);
        var converted = Run(result.Model, x, 4);
        double signal = exact.Sum(v => (double)v * v), noise = exact.Zip(converted, (a, b) => (double)(a - b) * (a - b)).Sum();
        Assert.True(10 * Math.Log10(signal / noise) > 15, $"output SQNR {10 * Math.Log10(signal / noise):F1} dB");
    }

    [Fact]
    public void BitLinear_conversion_uses_absmean_ternary_weights_and_runs_on_our_kernel()
    {
        byte[] original = SampleModels.Mlp(Inputs, Hidden, Outputs, seed: 6);
        var result = ModelConverter.Convert(original, new ConversionOptions(ConversionTarget.BitLinear));
        Assert.Equal(2, result.Layers.Count);
        Assert.All(result.Layers, l => Assert.Equal(l.N * TernaryPacking.RowBytes(l.K) + 4L, l.BytesAfter));
        Assert.Equal(2, OnnxModelSummary.Read(result.Model).Nodes.Count(n => n.OpType == "BitLinear" && n.Domain == "ai.edgeruntime"));

        // One layer on its own, so the answer can be computed with the reference from the ternary weights.
        var w = new float[Inputs * Outputs].Select((_, i) => MathF.Cos(i * 1.3f) * 0.2f).ToArray();
        byte[] single = new OnnxModelBuilder()
            .Input("x", Protocol.TensorDType.Float32, "N", Inputs)
            .Initializer("w", Protocol.TensorDType.Float32, [Inputs, Outputs], w.AsSpan())
            .Node("MatMul", ["x", "w"], ["y"])
            .Output("y", Protocol.TensorDType.Float32, "N", Outputs)
            .Build();
        var layer = ModelConverter.Convert(single, new ConversionOptions(ConversionTarget.BitLinear));
        var (ternary, beta, dequantized) = WeightQuantizer.Ternarize(w, Inputs, Outputs);
        Assert.Equal(w.Average(v => MathF.Abs(v)), beta, 5);
        Assert.Equal(WeightQuantizer.SqnrDb(w, dequantized), Assert.Single(layer.Layers).SqnrDb);
        var x = Input(3);
        Assert.Equal(BitLinearReference.Compute(x, 3, Inputs, ternary, Outputs, beta), Run(layer.Model, x, 3));
    }

    [Fact]
    public void The_1_6_bit_layout_writes_a_fifth_fewer_weight_bytes_and_the_same_outputs_bit_for_bit()
    {
        // K = 320: two blocks of 160 (64 bytes a row) against one padded block of 256 (128 bytes) in the 2-bit layout.
        const int k = 320;
        var w = new float[k * Outputs].Select((_, i) => MathF.Cos(i * 0.37f) * 0.2f).ToArray();
        byte[] single = new OnnxModelBuilder()
            .Input("x", Protocol.TensorDType.Float32, "N", k)
            .Initializer("w", Protocol.TensorDType.Float32, [k, Outputs], w.AsSpan())
            .Node("MatMul", ["x", "w"], ["y"])
            .Output("y", Protocol.TensorDType.Float32, "N", Outputs)
            .Build();
        var twoBit = ModelConverter.Convert(single, new ConversionOptions(ConversionTarget.BitLinear));
        var fivePerByte = ModelConverter.Convert(single, new ConversionOptions(ConversionTarget.BitLinear, TernaryLayout: TernaryLayout.FivePerByte));
        Assert.Equal(Outputs * 128 + 4L, Assert.Single(twoBit.Layers).BytesAfter);
        Assert.Equal(Outputs * 64 + 4L, Assert.Single(fivePerByte.Layers).BytesAfter);
        Assert.Equal(Assert.Single(twoBit.Layers).SqnrDb, Assert.Single(fivePerByte.Layers).SqnrDb);

        var node = Assert.Single(OnnxModelSummary.Read(fivePerByte.Model).Nodes);
        Assert.Equal(("BitLinear", "ai.edgeruntime", 5L), (node.OpType, node.Domain, node.Ints["trits_per_byte"]));
        Assert.DoesNotContain("trits_per_byte", Assert.Single(OnnxModelSummary.Read(twoBit.Model).Nodes).Ints.Keys);
        var (ternary, beta, _) = WeightQuantizer.Ternarize(w, k, Outputs);
        var x = new float[3 * k].Select((_, i) => MathF.Sin(i * 0.7f)).ToArray();
        float[] expected = BitLinearReference.Compute(x, 3, k, ternary, Outputs, beta);
        Assert.Equal(expected, RunK(fivePerByte.Model, x, 3, k));
        Assert.Equal(expected, RunK(twoBit.Model, x, 3, k));
    }

    private static float[] RunK(byte[] model, float[] x, int rows, int k)
    {
        using var options = SessionFactory.CreateOptions(new InferenceOptions { IntraOpThreads = 1 });
        using var session = new InferenceSession(model, options);
        using var input = OrtValue.CreateTensorValueFromMemory(x, [rows, k]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, ["x"], [input], ["y"]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    /// <summary>PyTorch exports nn.Linear as Gemm(x, W [N, K], b, transB = 1).</summary>
    private static byte[] LinearAsGemm(float[] w, float[] bias) => new OnnxModelBuilder()
        .Input("x", Protocol.TensorDType.Float32, "N", Inputs)
        .Initializer("fc.weight", Protocol.TensorDType.Float32, [Outputs, Inputs], w.AsSpan())
        .Initializer("fc.bias", Protocol.TensorDType.Float32, [Outputs], bias.AsSpan())
        .Node("Gemm", ["x", "fc.weight", "fc.bias"], ["y"], "", new NodeAttribute("transB", 1), new NodeAttribute("alpha", Float: 1f))
        .Output("y", Protocol.TensorDType.Float32, "N", Outputs)
        .Build();

    [Fact]
    public void Gemm_layers_with_transposed_weights_and_bias_convert_to_both_targets()
    {
        var w = new float[Outputs * Inputs].Select((_, i) => MathF.Sin(i * 0.9f) * 0.3f).ToArray();
        var bias = new float[Outputs].Select((_, i) => i * 0.1f).ToArray();
        byte[] model = LinearAsGemm(w, bias);
        var x = Input(3);
        var exact = Run(model, x, 3);

        var int4 = ModelConverter.Convert(model, new ConversionOptions(ConversionTarget.Int4, 32, true, AccuracyLevel: 0));
        var layer = Assert.Single(int4.Layers);
        Assert.Equal((Inputs, Outputs), (layer.K, layer.N));
        var approximate = Run(int4.Model, x, 3);
        double signal = exact.Sum(v => (double)v * v), noise = exact.Zip(approximate, (a, b) => (double)(a - b) * (a - b)).Sum();
        Assert.True(10 * Math.Log10(signal / noise) > 20, $"output SQNR {10 * Math.Log10(signal / noise):F1} dB");

        // BitLinear with its bias input: exactly the reference on the ternary weights plus the bias.
        var ternary = ModelConverter.Convert(model, new ConversionOptions(ConversionTarget.BitLinear));
        Assert.Equal(["BitLinear"], OnnxModelSummary.Read(ternary.Model).Nodes.Select(n => n.OpType));
        var wKn = new float[Inputs * Outputs];
        for (int n = 0; n < Outputs; n++)
        {
            for (int k = 0; k < Inputs; k++)
            {
                wKn[(k * Outputs) + n] = w[(n * Inputs) + k];
            }
        }

        var (codes, beta, _) = WeightQuantizer.Ternarize(wKn, Inputs, Outputs);
        var expected = BitLinearReference.Compute(x, 3, Inputs, codes, Outputs, beta).Select((v, i) => v + bias[i % Outputs]).ToArray();
        Assert.Equal(expected, Run(ternary.Model, x, 3));
    }

    [Fact]
    public void A_weight_shared_by_two_layers_is_quantized_once_and_both_layers_run()
    {
        var w = new float[Inputs * Inputs].Select((_, i) => MathF.Sin(i * 0.31f) * 0.2f).ToArray();
        byte[] model = new OnnxModelBuilder()
            .Input("x", Protocol.TensorDType.Float32, "N", Inputs)
            .Initializer("shared", Protocol.TensorDType.Float32, [Inputs, Inputs], w.AsSpan())
            .Node("MatMul", ["x", "shared"], ["h"])
            .Node("MatMul", ["h", "shared"], ["y"])
            .Output("y", Protocol.TensorDType.Float32, "N", Inputs)
            .Build();
        foreach (var target in new[] { ConversionTarget.Int4, ConversionTarget.BitLinear })
        {
            var result = ModelConverter.Convert(model, new ConversionOptions(target));
            Assert.Single(result.Layers);
            Assert.Equal(2, OnnxModelSummary.Read(result.Model).Nodes.Length);
            using var options = SessionFactory.CreateOptions(new InferenceOptions { IntraOpThreads = 1 });
            using var session = new InferenceSession(result.Model, options);
            // Stored once: under a third of the float size even with BitLinear's padding of K = 64 to a 256-weight block.
            Assert.True(result.ModelBytesAfter < result.ModelBytesBefore / 3, $"{target}: {result.ModelBytesBefore} -> {result.ModelBytesAfter}");
        }
    }

    /// <summary>A real PyTorch export (ONNX's pytorch-converted test_Linear: Gemm, IR 3, weights also listed as inputs).</summary>
    [Theory]
    [InlineData(ConversionTarget.Int4, 20.0)]
    [InlineData(ConversionTarget.BitLinear, 5.0)]
    public void A_pytorch_nn_Linear_export_converts_and_tracks_its_expected_output(ConversionTarget target, double minimumSqnrDb)
    {
        const string folder = "/usr/share/libonnx-testdata/data/pytorch-converted/test_Linear";
        Assert.True(Directory.Exists(folder), $"{folder} is missing: install the Debian package libonnx-testdata.");
        var result = ModelConverter.Convert(File.ReadAllBytes(Path.Combine(folder, "model.onnx")), new ConversionOptions(target, BlockSize: 16, AccuracyLevel: 0));
        Assert.Single(result.Layers);

        var input = TensorFile.Read(Path.Combine(folder, "test_data_set_0", "input_0.pb"));
        var expected = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(TensorFile.Read(Path.Combine(folder, "test_data_set_0", "output_0.pb")).Raw).ToArray();
        using var options = SessionFactory.CreateOptions(new InferenceOptions { IntraOpThreads = 1 });
        using var session = new InferenceSession(result.Model, options);
        using var value = input.ToOrtValue();
        using var runOptions = new RunOptions();
        // IR 3 lists the weight and bias among the graph inputs; the weight's entry goes with it (the bias becomes the op's [N] copy).
        Assert.DoesNotContain(session.InputMetadata.Keys, name => name == result.Layers[0].Weight);
        var inputNames = session.InputMetadata.Keys.Take(1).ToArray();
        using var outputs = session.Run(runOptions, inputNames, [value], [session.OutputMetadata.Keys.First()]);
        var actual = outputs[0].GetTensorDataAsSpan<float>().ToArray();
        double signal = expected.Sum(v => (double)v * v), noise = expected.Zip(actual, (a, b) => (double)(a - b) * (a - b)).Sum();
        Assert.True(10 * Math.Log10(signal / noise) > minimumSqnrDb, $"{target}: output SQNR {10 * Math.Log10(signal / noise):F1} dB");
    }

    [Fact]
    public void A_Gemm_with_alpha_other_than_one_is_left_alone()
    {
        var w = new float[Outputs * Inputs];
        byte[] model = new OnnxModelBuilder()
            .Input("x", Protocol.TensorDType.Float32, "N", Inputs)
            .Initializer("w", Protocol.TensorDType.Float32, [Outputs, Inputs], w.AsSpan())
            .Node("Gemm", ["x", "w"], ["y"], "", new NodeAttribute("transB", 1), new NodeAttribute("alpha", Float: 0.5f))
            .Output("y", Protocol.TensorDType.Float32, "N", Outputs)
            .Build();
        var result = ModelConverter.Convert(model, new ConversionOptions(ConversionTarget.Int4));
        Assert.Contains("alpha or beta", Assert.Single(result.Skipped));
    }

    [Fact]
    public void A_MatMul_without_constant_weights_is_left_alone_and_said_so()
    {
        byte[] model = new OnnxModelBuilder()
            .Input("x", Protocol.TensorDType.Float32, 2, Inputs)
            .Input("w", Protocol.TensorDType.Float32, Inputs, 3)
            .Node("MatMul", ["x", "w"], ["y"])
            .Output("y", Protocol.TensorDType.Float32, 2, 3)
            .Build();
        var result = ModelConverter.Convert(model, new ConversionOptions(ConversionTarget.Int4));
        Assert.Empty(result.Layers);
        Assert.Contains("are a graph input fed at run time, not a constant", Assert.Single(result.Skipped));
        Assert.Equal(model, result.Model);
        Assert.Contains("block_size is 48", Assert.Throws<ArgumentException>(() => ModelConverter.Convert(model, new ConversionOptions(ConversionTarget.Int4, BlockSize: 48))).Message);
    }
}
