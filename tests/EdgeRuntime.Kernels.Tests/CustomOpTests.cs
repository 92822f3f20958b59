using EdgeRuntime.Inference;
using EdgeRuntime.Kernels.Ort;
using EdgeRuntime.Kernels.Ternary;
using EdgeRuntime.Onnx;
using Microsoft.ML.OnnxRuntime;
using EdgeRuntime.TestModels;

namespace EdgeRuntime.Kernels.Tests;

/// <summary>Our ops inside real ONNX Runtime sessions, registered from C# through the C API.</summary>
public sealed class CustomOpTests
{
    private static float[] Run(InferenceSession session, float[] x, int m, int k)
    {
        using var input = OrtValue.CreateTensorValueFromMemory(x, [m, k]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, ["x"], [input], ["y"]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    private static float[] Activations(int count, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(_ => (float)((random.NextDouble() * 2) - 1))];
    }

    [Fact]
    public void The_function_table_slots_are_where_the_header_puts_them()
    {
        // GetBuildInfoString is slot 254; a miscounted table would call something else (or crash) here.
        Assert.StartsWith("ORT Build Info", CustomOpDomain.BuildInfo(), StringComparison.Ordinal);
        Assert.Contains("BitLinear", CustomOpDomain.Ops);
    }

    [Theory]
    [InlineData(1, 2)]
    [InlineData(2, 2)]
    [InlineData(2, 1)]
    public void BitLinear_in_an_ort_session_equals_the_reference(int intraOpThreads, int batchSeed)
    {
        var layer = SampleModels.BitLinear(n: 300, k: 520);
        using var options = SessionFactory.CreateOptions(new InferenceOptions { IntraOpThreads = intraOpThreads });
        using var session = new InferenceSession(layer.Model, options);
        foreach (int m in new[] { 1, 3, 32 })
        {
            float[] x = Activations(m * layer.K, m + batchSeed);
            float[] expected = BitLinearReference.Compute(x, m, layer.K, layer.Weights, layer.N, layer.Beta);
            Assert.Equal(expected, Run(session, x, m, layer.K));
        }
    }

    [Fact]
    public void Stacked_projections_with_a_beta_per_row_equal_the_separate_ops_bit_for_bit()
    {
        // Two layers of the same input (5 and 3 rows) stacked into one op: rows keep their own matrix's beta.
        const int k = 300;
        var first = SampleModels.BitLinear(n: 5, k: k, seed: 1);
        var second = SampleModels.BitLinear(n: 3, k: k, seed: 2);
        byte[] packed = [.. TernaryPacking.Pack(first.Weights, 5, k), .. TernaryPacking.Pack(second.Weights, 3, k)];
        float[] betas = [.. Enumerable.Repeat(first.Beta, 5), .. Enumerable.Repeat(second.Beta, 3)];
        byte[] model = new OnnxModelBuilder()
            .Opset(CustomOpDomain.Name, 1)
            .Input("x", Protocol.TensorDType.Float32, "M", k)
            .Initializer("w", Protocol.TensorDType.UInt8, [8, TernaryPacking.RowBytes(k)], packed.AsSpan())
            .Initializer("beta", Protocol.TensorDType.Float32, [8], betas.AsSpan())
            .Node("BitLinear", ["x", "w", "beta"], ["y"], CustomOpDomain.Name)
            .Output("y", Protocol.TensorDType.Float32, "M", 8)
            .Build();
        using var options = SessionFactory.CreateOptions(new InferenceOptions());
        using var session = new InferenceSession(model, options);
        foreach (int m in new[] { 1, 4, 6 })
        {
            float[] x = Activations(m * k, m);
            float[] a = BitLinearReference.Compute(x, m, k, first.Weights, 5, first.Beta);
            float[] b = BitLinearReference.Compute(x, m, k, second.Weights, 3, second.Beta);
            float[] expected = [.. Enumerable.Range(0, m).SelectMany(t => a.Skip(t * 5).Take(5).Concat(b.Skip(t * 3).Take(3)))];
            Assert.Equal(expected, Run(session, x, m, k));
        }
    }

    private static byte[] FivePerByteModel(TernaryLayer layer, long? tritsPerByte, byte[] packed, long[] shape) =>
        new OnnxModelBuilder()
            .Opset(CustomOpDomain.Name, 1)
            .Input("x", Protocol.TensorDType.Float32, "M", layer.K)
            .Initializer("w", Protocol.TensorDType.UInt8, shape, packed.AsSpan())
            .Initializer("beta", Protocol.TensorDType.Float32, [1], new[] { layer.Beta }.AsSpan())
            .Node("BitLinear", ["x", "w", "beta"], ["y"], CustomOpDomain.Name, tritsPerByte is { } t ? [new NodeAttribute("trits_per_byte", Int: t)] : [])
            .Output("y", Protocol.TensorDType.Float32, "M", layer.N)
            .Build();

    [Fact]
    public void Five_weights_per_byte_give_the_reference_bit_for_bit_as_two_bits_do()
    {
        var layer = SampleModels.BitLinear(n: 300, k: 520, seed: 4);
        byte[] model = FivePerByteModel(layer, 5, TritPacking.Pack(layer.Weights, layer.N, layer.K), TernaryLayout.FivePerByte.WeightShape(layer.N, layer.K));
        using var options = SessionFactory.CreateOptions(new InferenceOptions { IntraOpThreads = 2 });
        using var session = new InferenceSession(model, options);
        using var twoBit = new InferenceSession(layer.Model, options);
        foreach (int m in new[] { 1, 3, 32 })
        {
            float[] x = Activations(m * layer.K, m + 40);
            float[] expected = BitLinearReference.Compute(x, m, layer.K, layer.Weights, layer.N, layer.Beta);
            Assert.Equal(expected, Run(session, x, m, layer.K));
            Assert.Equal(expected, Run(twoBit, x, m, layer.K));
        }
    }

    [Fact]
    public void A_layout_the_op_does_not_know_or_weights_of_the_other_layout_are_refused_with_the_reason()
    {
        // K = 256: both layouts take 64 bytes a row, so only W's rank tells them apart.
        var layer = SampleModels.BitLinear(n: 4, k: 256, seed: 6);
        using var options = SessionFactory.CreateOptions(new InferenceOptions());
        byte[] packed = TritPacking.Pack(layer.Weights, layer.N, layer.K);
        long[] shape = TernaryLayout.FivePerByte.WeightShape(layer.N, layer.K);
        Assert.Equal([4L, 2, 32], shape);
        var unknown = Assert.Throws<OnnxRuntimeException>(() => new InferenceSession(FivePerByteModel(layer, 3, packed, shape), options));
        Assert.Contains("trits_per_byte is 3; it must be 4 (2-bit layout) or 5", unknown.Message, StringComparison.Ordinal);

        // 1.6-bit weights without the attribute (as a runtime that predates it would read them): refused, not misread.
        using (var bare = new InferenceSession(FivePerByteModel(layer, null, packed, shape), options))
        {
            var error = Assert.Throws<OnnxRuntimeException>(() => Run(bare, new float[256], 1, 256));
            Assert.Contains("rank 3 is the 1.6-bit layout, which needs trits_per_byte 5", error.Message, StringComparison.Ordinal);
        }

        // 2-bit weights under trits_per_byte = 5, the same 64 bytes a row: refused by rank.
        byte[] twoBit = TernaryPacking.Pack(layer.Weights, layer.N, layer.K);
        using var session = new InferenceSession(FivePerByteModel(layer, 5, twoBit, TernaryLayout.FourPerByte.WeightShape(layer.N, layer.K)), options);
        var wrong = Assert.Throws<OnnxRuntimeException>(() => Run(session, new float[256], 1, 256));
        Assert.Contains("W must be [N, blocks, 32] with trits_per_byte 5 (five weights a byte); it has rank 2", wrong.Message, StringComparison.Ordinal);

        // The right rank with the wrong blocks names the shape it expected.
        using var blocks = new InferenceSession(FivePerByteModel(layer, 5, [.. packed, .. packed], [4, 4, 32]), options);
        var sized = Assert.Throws<OnnxRuntimeException>(() => Run(blocks, new float[256], 1, 256));
        Assert.Contains("W is [4, 4, 32], but K=256 packs into [4, 2, 32] (64 bytes per row; trits_per_byte 5", sized.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Concurrent_runs_with_collections_in_between_stay_correct()
    {
        var layer = SampleModels.BitLinear(n: 128, k: 256, seed: 5);
        using var options = SessionFactory.CreateOptions(new InferenceOptions { IntraOpThreads = 2 });
        using var session = new InferenceSession(layer.Model, options);
        float[] x = Activations(4 * layer.K, 9);
        float[] expected = BitLinearReference.Compute(x, 4, layer.K, layer.Weights, layer.N, layer.Beta);
        Parallel.For(0, 4, _ =>
        {
            for (int i = 0; i < 50; i++)
            {
                Assert.Equal(expected, Run(session, x, 4, layer.K));
                if (i % 10 == 0)
                {
                    GC.Collect();
                }
            }
        });
    }

    [Fact]
    public void A_kernel_failure_is_an_ort_error_with_the_reason_not_a_crash()
    {
        // Weights packed for K=512 in a model whose input has K=100: the op must refuse, and the process live on.
        var layer = SampleModels.BitLinear(n: 4, k: 512);
        byte[] packed = TernaryPacking.Pack(layer.Weights, layer.N, layer.K);
        float[] beta = [1f];
        byte[] model = new OnnxModelBuilder()
            .Opset(CustomOpDomain.Name, 1)
            .Input("x", Protocol.TensorDType.Float32, "M", 100)
            .Initializer("w", Protocol.TensorDType.UInt8, [4, TernaryPacking.RowBytes(512)], packed.AsSpan())
            .Initializer("beta", Protocol.TensorDType.Float32, [1], beta.AsSpan())
            .Node("BitLinear", ["x", "w", "beta"], ["y"], CustomOpDomain.Name)
            .Output("y", Protocol.TensorDType.Float32, "M", 4)
            .Build();
        using var options = SessionFactory.CreateOptions(new InferenceOptions());
        using var session = new InferenceSession(model, options);
        var error = Assert.Throws<OnnxRuntimeException>(() => Run(session, new float[100], 1, 100));
        Assert.Contains("ai.edgeruntime.BitLinear: W is [4, 128], but K=100 packs into [4, 64] (64 bytes per row; trits_per_byte 4", error.Message, StringComparison.Ordinal);

        // The process lives on and other sessions run.
        using var good = new InferenceSession(layer.Model, options);
        Assert.Equal(4, Run(good, new float[512], 1, 512).Length);
    }

    [Fact]
    public void Without_the_domain_registered_ort_does_not_know_the_op()
    {
        var layer = SampleModels.BitLinear(n: 4, k: 128);
        using var plain = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL };
        var error = Assert.Throws<OnnxRuntimeException>(() => new InferenceSession(layer.Model, plain));
        Assert.Contains("ai.edgeruntime", error.Message, StringComparison.Ordinal);
    }
}
