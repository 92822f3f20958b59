using EdgeRuntime.Inference;
using EdgeRuntime.Inference.Onnx;
using EdgeRuntime.Kernels.LowBit;
using EdgeRuntime.Onnx;
using Microsoft.ML.OnnxRuntime;
using EdgeRuntime.TestModels;
using EdgeRuntime.Kernels;

namespace EdgeRuntime.Inference.Tests;

public sealed class RewriterTests
{
    private static NBitsWeights Weights(int bits) =>
        NBitsWeights.Quantize(new float[64 * 128].Select((_, i) => MathF.Sin(i * 0.37f)).ToArray(), new NBitsShape(64, 128, bits, 32), zeroPoints: true);

    [Theory]
    [InlineData("QNNExecutionProvider", 4, true)]
    [InlineData("CUDAExecutionProvider", 2, true)]
    [InlineData("CUDAExecutionProvider", 4, false)]
    [InlineData("CPUExecutionProvider", 2, false)]
    public void Auto_moves_MatMulNBits_only_where_the_primary_provider_lacks_it(string provider, int bits, bool moved)
    {
        byte[] model = SampleModels.MatMulNBits(Weights(bits), accuracyLevel: 4);
        var (rewritten, nodes) = KernelFallbackRewriter.Rewrite(model, KernelFallbackMode.Auto, provider);
        if (!moved)
        {
            Assert.Empty(nodes);
            Assert.Same(model, rewritten);
            return;
        }

        var node = Assert.Single(nodes);
        Assert.Equal(("MatMulNBits", "com.microsoft"), (node.OpType, node.FromDomain));
        Assert.Contains($"{provider} lacks com.microsoft.MatMulNBits (bits={bits})", node.Reason);

        // The rewritten model runs (on our kernel) and gives what our kernel gives directly.
        var x = new float[3 * 128].Select((_, i) => MathF.Cos(i * 0.11f)).ToArray();
        using var options = SessionFactory.CreateOptions(new InferenceOptions { IntraOpThreads = 1 });
        using var session = new InferenceSession(rewritten, options);
        using var input = OrtValue.CreateTensorValueFromMemory(x, [3, 128]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, ["x"], [input], ["y"]);
        var expected = new float[3 * 64];
        var weights = Weights(bits);
        NBitsMatMul.Compute(KernelPaths.Best, weights.Shape, NBitsAccuracy.Int8, x, 3, weights.B, weights.Scales, weights.ZeroPoints, default, expected);
        Assert.Equal(expected, outputs[0].GetTensorDataAsSpan<float>().ToArray());
    }

    [Fact]
    public void Force_moves_every_handled_node_and_off_moves_none()
    {
        var b = new sbyte[16 * 8];
        byte[] model = SampleModels.QLinearMatMul(16, 8, b, 0.1f, 128, [0.1f], [0], 0.2f, 128);
        Assert.Single(KernelFallbackRewriter.Rewrite(model, KernelFallbackMode.Force, "CPUExecutionProvider").Nodes);
        Assert.Empty(KernelFallbackRewriter.Rewrite(model, KernelFallbackMode.Off, "QNNExecutionProvider").Nodes);
        Assert.Empty(KernelFallbackRewriter.Rewrite(model, KernelFallbackMode.Auto, "CPUExecutionProvider").Nodes);
        Assert.Single(KernelFallbackRewriter.Rewrite(model, KernelFallbackMode.Auto, "CUDAExecutionProvider").Nodes);
    }

    [Fact]
    public void Nodes_our_kernel_cannot_run_are_left_alone()
    {
        // Float zero points (ORT allows them; ours are packed uint8 only).
        var weights = Weights(4);
        var shape = weights.Shape;
        byte[] floatZeroPoints = new OnnxModelBuilder()
            .Opset("com.microsoft", 1)
            .Input("x", Protocol.TensorDType.Float32, "M", shape.K)
            .Initializer("b", Protocol.TensorDType.UInt8, [shape.N, shape.KBlocks, shape.BlobBytes], weights.B.AsSpan())
            .Initializer("scales", Protocol.TensorDType.Float32, [shape.N * shape.KBlocks], weights.Scales.AsSpan())
            .Initializer("zp", Protocol.TensorDType.Float32, [shape.N * shape.KBlocks], new float[shape.N * shape.KBlocks].AsSpan())
            .Node("MatMulNBits", ["x", "b", "scales", "zp"], ["y"], "com.microsoft",
                new NodeAttribute("K", shape.K), new NodeAttribute("N", shape.N), new NodeAttribute("bits", 4), new NodeAttribute("block_size", 32))
            .Output("y", Protocol.TensorDType.Float32, "M", shape.N)
            .Build();
        Assert.Empty(KernelFallbackRewriter.Rewrite(floatZeroPoints, KernelFallbackMode.Force, "QNNExecutionProvider").Nodes);
    }
}
