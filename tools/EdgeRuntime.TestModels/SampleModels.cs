using EdgeRuntime.Protocol;
using EdgeRuntime.Onnx;

namespace EdgeRuntime.TestModels;

/// <summary>Small models with known answers, built from seeded weights, for tests and benchmarks.</summary>
public static class SampleModels
{
    /// <summary>y = x + b with x float32[2,3] fixed and b = [1..6]: every output is checkable by hand.</summary>
    public static byte[] AddBias()
    {
        float[] bias = [1, 2, 3, 4, 5, 6];
        return new OnnxModelBuilder()
            .Input("x", TensorDType.Float32, 2, 3)
            .Initializer("b", TensorDType.Float32, [2, 3], bias.AsSpan())
            .Node("Add", ["x", "b"], ["y"])
            .Output("y", TensorDType.Float32, 2, 3)
            .Build();
    }

    /// <summary>
    /// A two-layer perceptron y = relu(x·W1 + b1)·W2 with a dynamic batch: float32[N, inputs] in, float32[N, outputs] out.
    /// Weights come from a seeded generator, so a test can recompute the answer.
    /// </summary>
    public static byte[] Mlp(int inputs, int hidden, int outputs, int seed = 7)
    {
        var random = new Random(seed);
        float[] w1 = RandomWeights(random, inputs * hidden, inputs);
        float[] b1 = RandomWeights(random, hidden, hidden);
        float[] w2 = RandomWeights(random, hidden * outputs, hidden);
        return new OnnxModelBuilder()
            .Input("x", TensorDType.Float32, "N", inputs)
            .Initializer("w1", TensorDType.Float32, [inputs, hidden], w1.AsSpan())
            .Initializer("b1", TensorDType.Float32, [hidden], b1.AsSpan())
            .Initializer("w2", TensorDType.Float32, [hidden, outputs], w2.AsSpan())
            .Node("MatMul", ["x", "w1"], ["h0"])
            .Node("Add", ["h0", "b1"], ["h1"])
            .Node("Relu", ["h1"], ["h"])
            .Node("MatMul", ["h", "w2"], ["y"])
            .Output("y", TensorDType.Float32, "N", outputs)
            .Build();
    }

    /// <summary>
    /// A camera-sized model: one 480×640 RGB frame, uint8[1,480,640,3] (900 KiB), in; its mean colour, float32[1,3],
    /// out. The work is one pass over the frame, so the cost of moving the frame to the model shows.
    /// </summary>
    public static byte[] FrameMean(int height = 480, int width = 640)
    {
        return new OnnxModelBuilder()
            .Input("frame", TensorDType.UInt8, 1, height, width, 3)
            .Node("Cast", ["frame"], ["pixels"], attributes: new NodeAttribute("to", Int: 1))
            .Node("ReduceMean", ["pixels"], ["mean"], attributes: [new NodeAttribute("axes", Ints: [1, 2]), new NodeAttribute("keepdims", Int: 0)])
            .Output("mean", TensorDType.Float32, 1, 3)
            .Build();
    }

    /// <summary>y = 2x for an int64 vector of any length, to exercise a dtype other than float32.</summary>
    public static byte[] DoubleInt64()
    {
        long[] two = [2];
        return new OnnxModelBuilder()
            .Input("x", TensorDType.Int64, "N")
            .Initializer("two", TensorDType.Int64, [1], two.AsSpan())
            .Node("Mul", ["x", "two"], ["y"])
            .Output("y", TensorDType.Int64, "N")
            .Build();
    }

    /// <summary>
    /// A quantized (QDQ) model with fixed shapes, the form the QNN NPU backend wants: x float32[1,4] is quantized to
    /// uint8 (scale 1/64, zero point 128), dequantized, and added to b = [1,2,3,4]. Small integers multiples of 1/64
    /// pass through exactly.
    /// </summary>
    public static byte[] QdqAdd()
    {
        float[] scale = [1f / 64];
        byte[] zeroPoint = [128];
        float[] bias = [1, 2, 3, 4];
        return new OnnxModelBuilder()
            .Input("x", TensorDType.Float32, 1, 4)
            .Initializer("scale", TensorDType.Float32, [], scale.AsSpan())
            .Initializer("zero_point", TensorDType.UInt8, [], zeroPoint.AsSpan())
            .Initializer("b", TensorDType.Float32, [1, 4], bias.AsSpan())
            .Node("QuantizeLinear", ["x", "scale", "zero_point"], ["x_q"])
            .Node("DequantizeLinear", ["x_q", "scale", "zero_point"], ["x_dq"])
            .Node("Add", ["x_dq", "b"], ["y"])
            .Output("y", TensorDType.Float32, 1, 4)
            .Build();
    }

    /// <summary>
    /// One BitLinear layer (ai.edgeruntime::BitLinear) with seeded ternary weights: x float32[M, k] -> y float32[M, n],
    /// M dynamic. The unpacked weights and β come back too, so a test can compute the answer with the reference.
    /// </summary>
    public static TernaryLayer BitLinear(int n, int k, int seed = 11)
    {
        var random = new Random(seed);
        var weights = new sbyte[n * k];
        for (int i = 0; i < weights.Length; i++)
        {
            weights[i] = (sbyte)(random.Next(3) - 1);
        }

        float[] beta = [0.0125f + (float)random.NextDouble() * 0.01f];
        byte[] packed = EdgeRuntime.Kernels.Ternary.TernaryPacking.Pack(weights, n, k);
        byte[] model = new OnnxModelBuilder()
            .Opset(OnnxDomains.EdgeRuntime, 1)
            .Input("x", TensorDType.Float32, "M", k)
            .Initializer("w", TensorDType.UInt8, [n, EdgeRuntime.Kernels.Ternary.TernaryPacking.RowBytes(k)], packed.AsSpan())
            .Initializer("beta", TensorDType.Float32, [1], beta.AsSpan())
            .Node("BitLinear", ["x", "w", "beta"], ["y"], OnnxDomains.EdgeRuntime)
            .Output("y", TensorDType.Float32, "M", n)
            .Build();
        return new TernaryLayer(model, weights, beta[0], n, k);
    }

    /// <summary>
    /// One MatMulNBits layer, x float32[M, K] -> y float32[M, N] (M dynamic), in ORT's com.microsoft domain or ours:
    /// the two take the same inputs and attributes, so the pair compares ORT's kernel with our fallback.
    /// </summary>
    public static byte[] MatMulNBits(EdgeRuntime.Kernels.LowBit.NBitsWeights weights, int accuracyLevel, string domain = OnnxDomains.Microsoft, float[]? bias = null)
    {
        var shape = weights.Shape;
        var builder = new OnnxModelBuilder()
            .Opset(domain, 1)
            .Input("x", TensorDType.Float32, "M", shape.K)
            .Initializer("b", TensorDType.UInt8, [shape.N, shape.KBlocks, shape.BlobBytes], weights.B.AsSpan())
            .Initializer("scales", TensorDType.Float32, [shape.N * shape.KBlocks], weights.Scales.AsSpan());
        var inputs = new List<string> { "x", "b", "scales" };
        if (weights.ZeroPoints is { } zp)
        {
            builder.Initializer("zero_points", TensorDType.UInt8, [shape.N * shape.ZeroPointRowBytes], zp.AsSpan());
            inputs.Add("zero_points");
        }

        if (bias is not null)
        {
            builder.Initializer("bias", TensorDType.Float32, [shape.N], bias.AsSpan());
            inputs.AddRange(weights.ZeroPoints is null ? ["", "", "bias"] : ["", "bias"]);
        }

        return builder
            .Node("MatMulNBits", [.. inputs], ["y"], domain,
                new NodeAttribute("K", shape.K), new NodeAttribute("N", shape.N), new NodeAttribute("bits", shape.Bits),
                new NodeAttribute("block_size", shape.BlockSize), new NodeAttribute("accuracy_level", accuracyLevel))
            .Output("y", TensorDType.Float32, "M", shape.N)
            .Build();
    }

    /// <summary>
    /// QLinearMatMul with constant 8-bit weights b [K, N] (per-tensor or per-column scale and zero point), in the
    /// standard domain or ours: a uint8[M, K] (scale aScale, zero point aZp) -> y uint8[M, N].
    /// </summary>
    public static byte[] QLinearMatMul(int k, int n, sbyte[] b, float aScale, byte aZp, float[] bScales, sbyte[] bZps, float yScale, byte yZp, string domain = "")
    {
        var builder = new OnnxModelBuilder(opset: 13);
        if (domain.Length > 0)
        {
            builder.Opset(domain, 1);
        }

        long[] perColumn = bScales.Length == 1 ? [] : [n];
        return builder
            .Input("a", TensorDType.UInt8, "M", k)
            .Initializer("a_scale", TensorDType.Float32, [], new[] { aScale }.AsSpan())
            .Initializer("a_zero_point", TensorDType.UInt8, [], new[] { aZp }.AsSpan())
            .Initializer("b", TensorDType.Int8, [k, n], b.AsSpan())
            .Initializer("b_scale", TensorDType.Float32, perColumn, bScales.AsSpan())
            .Initializer("b_zero_point", TensorDType.Int8, perColumn, bZps.AsSpan())
            .Initializer("y_scale", TensorDType.Float32, [], new[] { yScale }.AsSpan())
            .Initializer("y_zero_point", TensorDType.UInt8, [], new[] { yZp }.AsSpan())
            .Node("QLinearMatMul", ["a", "a_scale", "a_zero_point", "b", "b_scale", "b_zero_point", "y_scale", "y_zero_point"], ["y"], domain)
            .Output("y", TensorDType.UInt8, "M", n)
            .Build();
    }

    /// <summary>MatMulInteger with constant int8 weights b [K, N] and a per-tensor zero point for a: a uint8[M, K] -> y int32[M, N].</summary>
    public static byte[] MatMulInteger(int k, int n, sbyte[] b, byte aZp, string domain = "")
    {
        var builder = new OnnxModelBuilder(opset: 13);
        if (domain.Length > 0)
        {
            builder.Opset(domain, 1);
        }

        return builder
            .Input("a", TensorDType.UInt8, "M", k)
            .Initializer("b", TensorDType.Int8, [k, n], b.AsSpan())
            .Initializer("a_zero_point", TensorDType.UInt8, [], new[] { aZp }.AsSpan())
            .Node("MatMulInteger", ["a", "b", "a_zero_point"], ["y"], domain)
            .Output("y", TensorDType.Int32, "M", n)
            .Build();
    }

    private static float[] RandomWeights(Random random, int count, int fanIn)
    {
        float scale = 1f / MathF.Sqrt(fanIn);
        var weights = new float[count];
        for (int i = 0; i < count; i++)
        {
            weights[i] = ((float)random.NextDouble() * 2 - 1) * scale;
        }

        return weights;
    }
}

/// <summary>A BitLinear model and what it was built from.</summary>
public sealed record TernaryLayer(byte[] Model, sbyte[] Weights, float Beta, int N, int K);
