using EdgeRuntime.Inference;
using EdgeRuntime.Inference.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace EdgeRuntime.Kernels.Tests;

/// <summary>
/// ONNX's conformance cases (Debian package libonnx-testdata) for MatMulInteger and QLinearMatMul, with every node
/// moved onto our ai.edgeruntime fallback by the load-time rewrite: the outputs must equal ONNX's expected bytes.
/// </summary>
public sealed class ConformanceTests
{
    private const string Root = "/usr/share/libonnx-testdata/data/node";

    [Theory]
    [InlineData("test_matmulinteger", "MatMulInteger")]
    [InlineData("test_qlinearmatmul_2D", "QLinearMatMul")]
    [InlineData("test_qlinearmatmul_3D", "QLinearMatMul")]
    public void Onnx_conformance_case_passes_through_our_fallback_op(string name, string opType)
    {
        string folder = Path.Combine(Root, name);
        Assert.True(Directory.Exists(folder), $"{folder} is missing: install the Debian package libonnx-testdata (build.ps1 test does as root).");
        var (model, rewrites) = KernelFallbackRewriter.Rewrite(File.ReadAllBytes(Path.Combine(folder, "model.onnx")), KernelFallbackMode.Force, "CPUExecutionProvider");
        var rewrite = Assert.Single(rewrites);
        Assert.Equal(opType, rewrite.OpType);
        Assert.Equal(string.Empty, rewrite.FromDomain);

        using var options = SessionFactory.CreateOptions(new InferenceOptions { IntraOpThreads = 2 });
        options.EnableProfiling = false;
        using var session = new InferenceSession(model, options);
        foreach (string set in Directory.GetDirectories(folder, "test_data_set_*"))
        {
            var inputs = Directory.GetFiles(set, "input_*.pb").Order(StringComparer.Ordinal).Select(TensorFile.Read).ToArray();
            var expected = TensorFile.Read(Path.Combine(set, "output_0.pb"));
            var names = session.InputMetadata.Keys.ToArray();
            var values = inputs.Select(t => t.ToOrtValue()).ToArray();
            try
            {
                using var runOptions = new RunOptions();
                using var outputs = session.Run(runOptions, names, values, [session.OutputMetadata.Keys.First()]);
                var output = outputs[0];
                Assert.Equal(expected.Dims, output.GetTensorTypeAndShape().Shape);
                Assert.Equal(expected.Raw, output.GetTensorDataAsSpan<byte>().ToArray());
            }
            finally
            {
                foreach (var value in values)
                {
                    value.Dispose();
                }
            }

            // Make sure the fallback is what ran: the rewritten graph names our domain.
            Assert.Contains(EdgeRuntime.Onnx.OnnxDomains.EdgeRuntime, System.Text.Encoding.UTF8.GetString(model), StringComparison.Ordinal);
        }
    }
}
