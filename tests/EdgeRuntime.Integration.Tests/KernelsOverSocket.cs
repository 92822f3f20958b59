using EdgeRuntime.Client;
using EdgeRuntime.Kernels.Ternary;
using EdgeRuntime.ModelBuilder;

namespace EdgeRuntime.Integration.Tests;

/// <summary>Models using our ai.edgeruntime ops, loaded and run through the socket like any other model.</summary>
public sealed class KernelsOverSocket
{
    internal static async Task CheckBitLinearAsync(EdgedProcess edged, string name)
    {
        var layer = SampleModels.BitLinear(n: 96, k: 640, seed: 3);
        File.WriteAllBytes(Path.Combine(edged.ModelDirectory, name + ".onnx"), layer.Model);
        await using var client = await EdgeClient.ConnectAsync(edged.SocketPath);
        var info = await client.LoadAsync(name, name + ".onnx");
        Assert.Contains(info.Nodes, n => n.OpType == "BitLinear" && n.Provider == "CPUExecutionProvider");

        var random = new Random(17);
        foreach (int m in new[] { 1, 3, 5 })
        {
            float[] x = [.. Enumerable.Range(0, m * layer.K).Select(_ => (float)((random.NextDouble() * 2) - 1))];
            var result = await client.InferAsync(name, [Tensor.Float32("x", [m, layer.K], x)]);
            Assert.Equal(BitLinearReference.Compute(x, m, layer.K, layer.Weights, layer.N, layer.Beta), result["y"].ToArray<float>());
        }
    }

    [Fact]
    public async Task BitLinear_loads_and_runs_through_the_published_edged()
    {
        await using var edged = await EdgedProcess.StartAsync();
        await CheckBitLinearAsync(edged, "bitlinear");
    }
}
