using EdgeRuntime.Inference;
using EdgeRuntime.Onnx;
using EdgeRuntime.Protocol;
using EdgeRuntime.TestModels;

namespace EdgeRuntime.Inference.Tests;

// The registry probes placement by default, so its sessions write edged-placement profiles: it belongs with the other
// classes that do (PlacementProfileCollection), or ProviderPolicyTests may see one of its files mid-load.
[Collection(PlacementProfileCollection.Name)]
public sealed class ModelRegistryTests : IDisposable
{
    private readonly RegistryHarness _harness = new();

    public void Dispose() => _harness.Dispose();

    [Fact]
    public async Task The_mlp_answer_matches_a_plain_csharp_computation_of_the_same_weights()
    {
        // Rebuild the weights exactly as SampleModels.Mlp draws them and compute y by hand.
        const int inputs = 64, hidden = 32, outputs = 8;
        var random = new Random(7);
        float[] Draw(int count, int fanIn) => [.. Enumerable.Range(0, count).Select(_ => ((float)random.NextDouble() * 2 - 1) * (1f / MathF.Sqrt(fanIn)))];
        float[] w1 = Draw(inputs * hidden, inputs), b1 = Draw(hidden, hidden), w2 = Draw(hidden * outputs, hidden);
        float[] x = [.. Enumerable.Range(0, inputs).Select(i => MathF.Sin(i))];
        var expected = new float[outputs];
        for (int o = 0; o < outputs; o++)
        {
            for (int h = 0; h < hidden; h++)
            {
                float acc = b1[h];
                for (int i = 0; i < inputs; i++)
                {
                    acc += x[i] * w1[(i * hidden) + h];
                }

                expected[o] += MathF.Max(acc, 0) * w2[(h * outputs) + o];
            }
        }

        await _harness.Registry.LoadAsync("mlp", "mlp.onnx");
        var payload = System.Runtime.InteropServices.MemoryMarshal.AsBytes(x.AsSpan()).ToArray();
        var request = new InferRequest("mlp", [new TensorDescriptor("x", "float32", [1, inputs], 0, payload.Length)]);
        using var result = await _harness.Queue.RunAsync(_harness.Registry, request, payload);
        var y = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(result.Payload.Span).ToArray();

        Assert.Equal(outputs, y.Length);
        for (int o = 0; o < outputs; o++)
        {
            Assert.Equal(expected[o], y[o], 4);
        }
    }

    [Fact]
    public async Task Int64_tensors_pass_through_unchanged_in_type()
    {
        await _harness.Registry.LoadAsync("double", "double.onnx");
        long[] x = [1, -2, 3_000_000_000];
        var payload = System.Runtime.InteropServices.MemoryMarshal.AsBytes(x.AsSpan()).ToArray();
        var request = new InferRequest("double", [new TensorDescriptor("x", "int64", [3], 0, 24)]);
        using var result = await _harness.Queue.RunAsync(_harness.Registry, request, payload);

        Assert.Equal("int64", result.Outputs[0].Dtype);
        Assert.Equal([2L, -4L, 6_000_000_000L], System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(result.Payload.Span).ToArray());
    }

    [Fact]
    public async Task A_model_built_by_the_model_builder_reports_its_signature()
    {
        var model = await _harness.Registry.LoadAsync("add", "add.onnx");
        Assert.Equal("x", model.Inputs.Ports[0].Name);
        Assert.Equal(TensorDType.Float32, model.Inputs.Ports[0].DType);
        Assert.Equal("[2,3]", model.Inputs.Ports[0].DescribeShape());
        Assert.Equal(["y"], model.OutputNames);
    }

    [Fact]
    public void Percentiles_use_nearest_rank()
    {
        double[] sorted = [.. Enumerable.Range(1, 100).Select(i => (double)i)];
        Assert.Equal(50, LatencyRecorder.Percentile(sorted, 0.50));
        Assert.Equal(99, LatencyRecorder.Percentile(sorted, 0.99));
        Assert.Equal(0, LatencyRecorder.Percentile([], 0.5));
    }

    [Fact]
    public async Task The_sample_models_are_valid_onnx_for_onnx_runtime()
    {
        string path = Path.Combine(_harness.ModelDirectory, "big.onnx");
        File.WriteAllBytes(path, SampleModels.Mlp(1024, 1024, 256));
        var model = await _harness.Registry.LoadAsync("big", path);
        Assert.Equal("[N,1024]", model.Inputs.Ports[0].DescribeShape());
    }
}
