using EdgeRuntime.Protocol;

namespace EdgeRuntime.ModelBuilder;

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
        byte[] packed = Kernels.Ternary.TernaryPacking.Pack(weights, n, k);
        byte[] model = new OnnxModelBuilder()
            .Opset(Kernels.Ort.CustomOpDomain.Name, 1)
            .Input("x", TensorDType.Float32, "M", k)
            .Initializer("w", TensorDType.UInt8, [n, Kernels.Ternary.TernaryPacking.RowBytes(k)], packed.AsSpan())
            .Initializer("beta", TensorDType.Float32, [1], beta.AsSpan())
            .Node("BitLinear", ["x", "w", "beta"], ["y"], Kernels.Ort.CustomOpDomain.Name)
            .Output("y", TensorDType.Float32, "M", n)
            .Build();
        return new TernaryLayer(model, weights, beta[0], n, k);
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
