using EdgeRuntime.Conversion;
using EdgeRuntime.Inference;
using EdgeRuntime.Kernels.Int8;
using EdgeRuntime.Onnx;
using EdgeRuntime.Protocol;
using EdgeRuntime.TestModels;
using Microsoft.ML.OnnxRuntime;

namespace EdgeRuntime.Conversion.Tests;

/// <summary>
/// --to int8-packed: 8-bit models whose weights are stored in our kernel's layout give the same integers as ORT's own
/// ops on the original model, and a packed B that does not fit its node is refused with a reason.
/// </summary>
public sealed class Int8PackingTests
{
    private static readonly ConversionOptions Packed = new(ConversionTarget.Int8Packed);

    private static T[] Run<T>(byte[] model, byte[] a, long[] shape, int threads = 2)
        where T : unmanaged
    {
        using var options = SessionFactory.CreateOptions(new InferenceOptions { IntraOpThreads = threads });
        using var session = new InferenceSession(model, options);
        using var value = OrtValue.CreateTensorValueFromMemory(a, shape);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, ["a"], [value], ["y"]);
        return outputs[0].GetTensorDataAsSpan<T>().ToArray();
    }

    private static (sbyte[] B, byte[] A) Operands(int k, int n, int m, int seed)
    {
        var random = new Random(seed);
        var b = new byte[k * n];
        random.NextBytes(b);
        var a = new byte[m * k];
        random.NextBytes(a);
        return ((sbyte[])(Array)b, a);
    }

    [Theory]
    [InlineData(257, 190, 1)]
    [InlineData(64, 16, 4)]
    [InlineData(300, 333, 7)]
    public void A_packed_MatMulInteger_equals_orts_own_on_the_original(int k, int n, int m)
    {
        var (b, a) = Operands(k, n, m, k + n);
        byte[] original = SampleModels.MatMulInteger(k, n, b, 131);
        var result = ModelConverter.Convert(original, Packed);

        var layer = Assert.Single(result.Layers);
        Assert.Equal((k, n, "b"), (layer.K, layer.N, layer.Weight));
        Assert.True(double.IsPositiveInfinity(layer.SqnrDb));
        Assert.Equal(PackedInt8Weights.PackedBytes(k, n), layer.BytesAfter);
        var node = Assert.Single(OnnxModelSummary.Read(result.Model).Nodes);
        Assert.Equal(("MatMulInteger", OnnxDomains.EdgeRuntime), (node.OpType, node.Domain));
        var reference = Int8Reference.MatMulInteger(new Int8Matrix(a, false), m, k, new Int8Matrix((byte[])(Array)b, true), n, [131], []);
        Assert.Equal(reference, Run<int>(result.Model, a, [m, k]));

        // ORT's own kernel is exact on every CPU only for activations below 128 (pmaddubsw saturates without VNNI).
        for (int i = 0; i < a.Length; i++)
        {
            a[i] >>= 1;
        }

        Assert.Equal(Run<int>(original, a, [m, k]), Run<int>(result.Model, a, [m, k]));
    }

    [Fact]
    public void A_model_already_in_our_domain_packs_too()
    {
        var (b, a) = Operands(100, 50, 2, 5);
        byte[] ours = SampleModels.MatMulInteger(100, 50, b, 131, OnnxDomains.EdgeRuntime);

        var result = ModelConverter.Convert(ours, Packed);

        Assert.Single(result.Layers);
        Assert.Equal(Run<int>(ours, a, [2, 100]), Run<int>(result.Model, a, [2, 100]));
    }

    [Fact]
    public void Uint8_weights_with_per_column_zero_points_pack_exactly()
    {
        const int k = 130, n = 40, m = 3;
        var random = new Random(11);
        var b = new byte[k * n];
        random.NextBytes(b);
        var bZp = new byte[n];
        random.NextBytes(bZp);
        var a = new byte[m * k];
        random.NextBytes(a);
        byte[] original = new OnnxModelBuilder(opset: 13)
            .Input("a", TensorDType.UInt8, "M", k)
            .Initializer("b", TensorDType.UInt8, [k, n], b.AsSpan())
            .Initializer("a_zero_point", TensorDType.UInt8, [], new byte[] { 120 }.AsSpan())
            .Initializer("b_zero_point", TensorDType.UInt8, [n], bZp.AsSpan())
            .Node("MatMulInteger", ["a", "b", "a_zero_point", "b_zero_point"], ["y"])
            .Output("y", TensorDType.Int32, "M", n)
            .Build();

        var result = ModelConverter.Convert(original, Packed);

        Assert.Single(result.Layers);
        var reference = Int8Reference.MatMulInteger(new Int8Matrix(a, false), m, k, new Int8Matrix(b, false), n, [120], [.. bZp.Select(z => (int)z)]);
        Assert.Equal(reference, Run<int>(result.Model, a, [m, k]));
        Assert.Equal(Run<int>(original, a, [m, k]), Run<int>(result.Model, a, [m, k]));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void A_packed_QLinearMatMul_equals_our_kernel_on_the_original(int threads)
    {
        const int k = 300, n = 333, m = 3;
        var (b, a) = Operands(k, n, m, 8);
        float[] bScales = [.. Enumerable.Range(0, n).Select(i => 0.002f + (i % 7 * 0.0005f))];
        byte[] original = SampleModels.QLinearMatMul(k, n, b, 0.02f, 128, bScales, new sbyte[n], 0.05f, 120, OnnxDomains.EdgeRuntime);

        var result = ModelConverter.Convert(original, Packed);

        Assert.Single(result.Layers);
        Assert.Equal(Run<byte>(original, a, [m, k], threads), Run<byte>(result.Model, a, [m, k], threads));
    }

    [Fact]
    public void Packed_weights_are_not_packed_twice_and_activations_are_left_alone()
    {
        var (b, _) = Operands(64, 32, 1, 3);
        var once = ModelConverter.Convert(SampleModels.MatMulInteger(64, 32, b, 128), Packed);

        var twice = ModelConverter.Convert(once.Model, Packed);

        Assert.Empty(twice.Layers);
        Assert.Contains(twice.Skipped, s => s.Contains("already packed", StringComparison.Ordinal));
        var noWeights = new OnnxModelBuilder(opset: 13)
            .Input("a", TensorDType.UInt8, 2, 8).Input("b", TensorDType.Int8, 8, 4)
            .Node("MatMulInteger", ["a", "b"], ["y"])
            .Output("y", TensorDType.Int32, 2, 4)
            .Build();
        Assert.Contains(ModelConverter.Convert(noWeights, Packed).Skipped, s => s.Contains("'b' are not an initializer", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(64, 33, "for K = 64, N = 33 it must be [3, 16, 64]")]
    [InlineData(60, 32, "for K = 60, N = 32 it must be [2, 15, 64]")]
    public void A_packed_B_that_does_not_fit_its_attributes_is_refused(int k, int n, string message)
    {
        // Packed for 64 x 32 ([2, 16, 64]); the node claims another shape.
        var packed = new sbyte[PackedInt8Weights.PackedBytes(64, 32)];
        var model = PackedModel(k, n, packed, [2, 16, 64]);

        var e = Assert.ThrowsAny<OnnxRuntimeException>(() => Run<int>(model, new byte[k], [1, k]));

        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Nonzero_padding_means_the_bytes_were_packed_for_another_shape()
    {
        // K = 62 leaves rows 62 and 63 of every quad group as padding: a value there is refused.
        var packed = new sbyte[PackedInt8Weights.PackedBytes(62, 16)];
        packed[(15 * 64) + 3] = 5;
        var model = PackedModel(62, 16, packed, [1, 16, 64]);

        var e = Assert.ThrowsAny<OnnxRuntimeException>(() => Run<int>(model, new byte[62], [1, 62]));

        Assert.Contains("nonzero value in row 63, past K = 62", e.Message);
    }

    private static byte[] PackedModel(int k, int n, sbyte[] packed, long[] shape) => new OnnxModelBuilder(opset: 13)
        .Opset(OnnxDomains.EdgeRuntime, 1)
        .Input("a", TensorDType.UInt8, 1, k)
        .Initializer("b", TensorDType.Int8, shape, packed.AsSpan())
        .Node("MatMulInteger", ["a", "b"], ["y"], OnnxDomains.EdgeRuntime, new NodeAttribute("packed_b", 1), new NodeAttribute("K", k), new NodeAttribute("N", n))
        .Output("y", TensorDType.Int32, 1, n)
        .Build();
}
