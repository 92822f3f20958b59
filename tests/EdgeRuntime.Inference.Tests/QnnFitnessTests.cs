using EdgeRuntime.Inference.Providers;
using EdgeRuntime.Onnx;
using EdgeRuntime.TestModels;

namespace EdgeRuntime.Inference.Tests;

public sealed class QnnFitnessTests
{
    [Fact]
    public void A_qdq_model_with_fixed_shapes_suits_the_htp_and_a_float_one_does_not()
    {
        var qdq = OnnxModelSummary.Read(SampleModels.QdqAdd());
        Assert.True(Assert.Single(qdq.Inputs).IsStatic);
        Assert.Null(QnnOptions.HtpUnsuitability(qdq));
        Assert.NotNull(QnnOptions.HtpUnsuitability(OnnxModelSummary.Read(SampleModels.AddBias())));
    }

    [Fact]
    public void Blocked_int4_weights_suit_the_htp_only_in_the_lpbq_form()
    {
        Assert.Contains("LPBQ", QnnOptions.HtpFallbacks(BlockedWeights(lowPower: false)), StringComparison.Ordinal);
        Assert.Null(QnnOptions.HtpWholeGraphUnsuitability(BlockedWeights(lowPower: true)));
    }

    [Fact]
    public void Ops_the_provider_does_not_build_are_named_with_their_domain()
    {
        var graph = new OnnxModelBuilder(opset: 21)
            .Opset(OnnxDomains.Microsoft, 1)
            .Input("x", EdgeRuntime.Protocol.TensorDType.Float32, 1, 4)
            .Output("y", EdgeRuntime.Protocol.TensorDType.Float32, 1, 4)
            .Initializer("s", EdgeRuntime.Protocol.TensorDType.Float32, [], [0.1f])
            .Initializer("z", EdgeRuntime.Protocol.TensorDType.UInt16, [], [(ushort)0])
            .Node("QuantizeLinear", ["x", "s", "z"], ["q"])
            .Node("DequantizeLinear", ["q", "s", "z"], ["d"])
            .Node("FastGelu", ["d"], ["y"], OnnxDomains.Microsoft);
        Assert.Null(QnnOptions.HtpUnsuitability(OnnxModelSummary.Read(graph.Build())));
        string reason = QnnOptions.HtpFallbacks(OnnxModelSummary.Read(graph.Build()))!;
        Assert.Contains("com.microsoft:FastGelu", reason, StringComparison.Ordinal);
        Assert.DoesNotContain("QuantizeLinear", reason, StringComparison.Ordinal);
    }

    /// <summary>
    /// x · DQ(int8 codes, block scales) with block scales given as floats, or (LPBQ) as uint8 codes dequantized by a
    /// per-channel float scale.
    /// </summary>
    private static OnnxModelSummary BlockedWeights(bool lowPower)
    {
        var graph = new OnnxModelBuilder(opset: 21)
            .Input("x", EdgeRuntime.Protocol.TensorDType.Float32, 1, 32)
            .Output("y", EdgeRuntime.Protocol.TensorDType.Float32, 1, 2)
            .Initializer("w", EdgeRuntime.Protocol.TensorDType.Int8, [32, 2], new sbyte[64]);
        if (lowPower)
        {
            graph.Initializer("scale_codes", EdgeRuntime.Protocol.TensorDType.UInt8, [2, 2], new byte[] { 1, 2, 3, 4 })
                .Initializer("channel_scales", EdgeRuntime.Protocol.TensorDType.Float32, [2], [0.1f, 0.2f])
                .Node("DequantizeLinear", ["scale_codes", "channel_scales"], ["block_scales"], OnnxDomains.Default, new NodeAttribute("axis", Int: 1));
        }
        else
        {
            graph.Initializer("block_scales", EdgeRuntime.Protocol.TensorDType.Float32, [2, 2], [0.1f, 0.2f, 0.3f, 0.4f]);
        }

        graph.Node("DequantizeLinear", ["w", "block_scales"], ["w_float"], OnnxDomains.Default, new NodeAttribute("axis", Int: 0), new NodeAttribute("block_size", Int: 16))
            .Node("MatMul", ["x", "w_float"], ["y"]);
        return OnnxModelSummary.Read(graph.Build());
    }
}
