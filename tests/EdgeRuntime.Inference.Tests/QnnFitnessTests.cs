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
}
