using EdgeRuntime.Client;
using EdgeRuntime.Formats;
using EdgeRuntime.Protocol;
using EdgeRuntime.TestModels;

namespace EdgeRuntime.Integration.Tests;

/// <summary>Shared-memory tensors through the published (Native AOT) edged, from the C# client and from edgectl.</summary>
public sealed class SharedMemoryDaemonTests
{
    private const string Enabled = """ "sharedMemory": { "enabled": true, "maxRegionMiB": 16 } """;

    [Fact]
    public async Task A_camera_frame_and_a_tensor_over_the_frame_limit_go_through_a_region()
    {
        await using var edged = await EdgedProcess.StartAsync(Enabled, preload: """{ "name": "mlp", "path": "mlp.onnx" }""");
        File.WriteAllBytes(Path.Combine(edged.Directory, "models", "frame-mean.onnx"), SampleModels.FrameMean());
        await using var client = await EdgeClient.ConnectAsync(edged.SocketPath);
        Assert.Contains(ProtocolFeatures.SharedMemory, (await client.HelloAsync()).Features);
        await client.LoadAsync("camera", "frame-mean.onnx");

        var pixels = new byte[480 * 640 * 3];
        new Random(5).NextBytes(pixels);
        var frame = new Tensor("frame", TensorDType.UInt8, [1, 480, 640, 3], pixels);
        float[] overSocket = (await client.InferAsync("camera", [frame]))["mean"].ToArray<float>();
        using var region = await client.RegisterRegionAsync("cam", 4 * 1024 * 1024);
        Assert.Equal(overSocket, (await client.InferAsync("camera", [frame], region))["mean"].ToArray<float>());

        // 2 MiB is over this daemon's 1 MiB frame limit: refused through the socket, served from the region.
        var big = Tensor.Float32("x", [8192, 64], Enumerable.Range(0, 8192 * 64).Select(i => (i % 17) / 17f).ToArray());
        var refused = await Assert.ThrowsAsync<EdgeRuntimeException>(() => client.InferAsync("mlp", [big]));
        Assert.Equal(ErrorCodes.FrameTooLarge, refused.Code);
        var y = (await client.InferAsync("mlp", [big], region))["y"];
        Assert.Equal([8192L, 8L], y.Shape);
        var firstRows = await client.InferAsync("mlp", [big with { Shape = [16, 64], Data = big.Data[..(16 * 64 * 4)] }]);
        Assert.Equal(firstRows["y"].ToArray<float>(), y.ToArray<float>()[..(16 * 8)]);
    }

    [Fact]
    public async Task Edgectl_infers_through_shared_memory_and_says_when_the_daemon_does_not_allow_it()
    {
        string work = Directory.CreateTempSubdirectory("edgectl-shm-").FullName;
        string input = Path.Combine(work, "x.npy");
        NpyFile.Write(input, Tensor.Float32("x", [2, 3], [10, 20, 30, 40, 50, 60]));

        await using (var edged = await EdgedProcess.StartAsync(Enabled, preload: """{ "name": "add", "path": "add.onnx" }"""))
        {
            var result = await edged.EdgectlAsync("infer", "add", "--input", $"x={input}", "--shared-memory", "--repeat", "20", "--output-dir", Path.Combine(work, "out"));
            Assert.True(result.ExitCode == 0, result.Stderr);
            Assert.Matches(@"20 requests: round trip p50 \d+", result.Stdout);
            Assert.Equal([11f, 22f, 33f, 44f, 55f, 66f], NpyFile.Read(Path.Combine(work, "out", "y.npy")).ToArray<float>());
        }

        await using (var plain = await EdgedProcess.StartAsync(preload: """{ "name": "add", "path": "add.onnx" }"""))
        {
            var result = await plain.EdgectlAsync("infer", "add", "--input", $"x={input}", "--shared-memory");
            Assert.Equal(1, result.ExitCode);
            Assert.Contains("shared_memory_disabled: This daemon does not accept shared-memory regions; its configuration must set sharedMemory.enabled", result.Stderr, StringComparison.Ordinal);
        }
    }
}
