using EdgeRuntime.Kernels.Ort;
using EdgeRuntime.Kernels.Ternary;
using EdgeRuntime.Onnx;
using EdgeRuntime.Protocol;
using EdgeRuntime.TestModels;

namespace EdgeRuntime.KernelBench;

/// <summary>One-layer models for each contender, with seeded weights; each call gives a distinct copy.</summary>
internal static class PeerModels
{
    /// <summary>
    /// <paramref name="copies"/> independent BitLinear layers reading the same x (outputs y0, y1, ...): run back to
    /// back, their weights together exceed the caches, so each layer streams its weights from DRAM as in decode.
    /// </summary>
    public static byte[] BitLinear(int k, int n, int copies, int seed, TernaryLayout layout = TernaryLayout.FourPerByte)
    {
        var builder = new OnnxModelBuilder().Opset(CustomOpDomain.Name, 1).Input("x", TensorDType.Float32, "M", k);
        for (int c = 0; c < copies; c++)
        {
            var layer = SampleModels.BitLinear(n, k, seed + c);
            float[] beta = [layer.Beta];
            byte[] packed = layout.Pack(layer.Weights, n, k);
            builder.Initializer($"w{c}", TensorDType.UInt8, layout.WeightShape(n, k), packed.AsSpan())
                .Initializer($"beta{c}", TensorDType.Float32, [1], beta.AsSpan())
                .Node("BitLinear", ["x", $"w{c}", $"beta{c}"], [$"y{c}"], CustomOpDomain.Name, layout.NodeAttributes())
                .Output($"y{c}", TensorDType.Float32, "M", n);
        }

        return builder.Build();
    }

    /// <summary>
    /// MatMulNBits: B uint8[N, K/block, block·bits/8], scales float[N·K/block], no zero points; in ORT's com.microsoft
    /// domain (their kernel) or ours (our fallback), same bytes either way.
    /// </summary>
    public static byte[] MatMulNBits(int k, int n, int bits, int blockSize, int accuracyLevel, int copies, int seed, string domain = "com.microsoft")
    {
        var random = new Random(seed);
        int blocks = k / blockSize;
        int blobBytes = blockSize * bits / 8;
        var builder = new OnnxModelBuilder().Opset(domain, 1).Input("x", TensorDType.Float32, "M", k);
        for (int c = 0; c < copies; c++)
        {
            var b = new byte[n * blocks * blobBytes];
            random.NextBytes(b);
            var scales = new float[n * blocks];
            for (int i = 0; i < scales.Length; i++)
            {
                scales[i] = 0.01f + ((float)random.NextDouble() * 0.01f);
            }

            builder.Initializer($"b{c}", TensorDType.UInt8, [n, blocks, blobBytes], b.AsSpan())
                .Initializer($"scales{c}", TensorDType.Float32, [scales.Length], scales.AsSpan())
                .Node("MatMulNBits", ["x", $"b{c}", $"scales{c}"], [$"y{c}"], domain,
                    new NodeAttribute("K", Int: k), new NodeAttribute("N", Int: n), new NodeAttribute("bits", Int: bits),
                    new NodeAttribute("block_size", Int: blockSize), new NodeAttribute("accuracy_level", Int: accuracyLevel))
                .Output($"y{c}", TensorDType.Float32, "M", n);
        }

        return builder.Build();
    }

    /// <summary>
    /// MatMulInteger, x uint8[M, K] (zero point 128) times int8 weights [K, N], in the standard domain (ORT's kernel)
    /// or ours; <paramref name="copies"/> independent layers as for BitLinear.
    /// </summary>
    public static byte[] MatMulInteger(int k, int n, int copies, int seed, string domain = "")
    {
        var random = new Random(seed);
        var builder = new OnnxModelBuilder(opset: 13).Input("x", TensorDType.UInt8, "M", k)
            .Initializer("x_zero_point", TensorDType.UInt8, [], new byte[] { 128 }.AsSpan());
        if (domain.Length > 0)
        {
            builder.Opset(domain, 1);
        }

        for (int c = 0; c < copies; c++)
        {
            var b = new byte[(long)k * n];
            random.NextBytes(b);
            builder.Initializer($"b{c}", TensorDType.Int8, [k, n], b.AsSpan())
                .Node("MatMulInteger", ["x", $"b{c}", "x_zero_point"], [$"y{c}"], domain)
                .Output($"y{c}", TensorDType.Int32, "M", n);
        }

        return builder.Build();
    }

    public static byte[] MatMulFp32(int k, int n, int seed)
    {
        var random = new Random(seed);
        var w = new float[(long)k * n];
        for (int i = 0; i < w.Length; i++)
        {
            w[i] = (float)(random.NextDouble() - 0.5) * 0.05f;
        }

        return new OnnxModelBuilder()
            .Input("x", TensorDType.Float32, "M", k)
            .Initializer("w", TensorDType.Float32, [k, n], w.AsSpan())
            .Node("MatMul", ["x", "w"], ["y0"])
            .Output("y0", TensorDType.Float32, "M", n)
            .Build();
    }

    public static long BitLinearWeightBytes(int k, int n, TernaryLayout layout = TernaryLayout.FourPerByte) => (long)n * layout.RowBytes(k);

    public static string Domain => CustomOpDomain.Name;
}
