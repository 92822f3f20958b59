using EdgeRuntime.Client;
using EdgeRuntime.Formats;

namespace EdgeRuntime.Integration.Tests;

/// <summary>Memory a burst of load took is given back once the daemon is quiet (issue 19, fault 7).</summary>
/// <remarks>
/// Run alone: beside the other classes' daemons and clients on a 2-core CI machine the burst grew RSS by only 43 MB,
/// and the recently used pooled buffers the first trim keeps by design (about 20 MB) were then more than half of it.
/// </remarks>
[Collection(MeasuresProcessMemory.Name)]
public sealed class MemoryReturnTests
{
    [Fact]
    public async Task Memory_a_burst_took_is_returned_once_the_daemon_is_quiet()
    {
        await using var edged = await EdgedProcess.StartAsync(
            preload: """{ "name": "mlp", "path": "mlp.onnx" }""",
            extraLimits: "\"trimMemoryWhenIdleSeconds\": 1");
        // 250 KiB, 500 KiB and 1000 KiB a request (the frame limit here is 1 MiB).
        Tensor[] inputs = [.. new[] { 1000, 2000, 4000 }.Select(rows => Tensor.Float32("x", [rows, 64], new float[rows * 64]))];
        await using (var warm = await EdgeClient.ConnectAsync(edged.SocketPath))
        {
            await warm.InferAsync("mlp", [inputs[0]]);
        }

        await Task.Delay(3000); // the warm-up's own trim
        double start = edged.RssMb();

        // 40 connections with 16 requests in flight each: the load that once left RSS hundreds of MB high.
        const int connections = 40, perConnection = 48, inFlight = 16;
        await Task.WhenAll(Enumerable.Range(0, connections).Select(async _ =>
        {
            await using var client = await EdgeClient.ConnectAsync(edged.SocketPath);
            using var window = new SemaphoreSlim(inFlight);
            await Task.WhenAll(Enumerable.Range(0, perConnection).Select(async r =>
            {
                var input = inputs[r % inputs.Length];
                await window.WaitAsync();
                try
                {
                    var result = await client.InferAsync("mlp", [input]);
                    Assert.Equal([input.Shape[0], 8L], result["y"].Shape);
                }
                finally
                {
                    window.Release();
                }
            }));
        }));
        double loaded = edged.RssMb();
        Assert.True(loaded - start > 40, $"the burst raised RSS only from {start:0} to {loaded:0} MB, so this test proves nothing");

        // Half the burst must come back, or all but what the trim keeps by design: the recently used pooled buffers,
        // about 20 MB (30 allowed). On a slow 2-core run the burst can be under 50 MB, where those 20 MB alone are
        // half of it (CI: 51 -> 98 MB, 76 MB after the trim); the fault this guards against left hundreds of MB.
        double allowed = Math.Max((loaded - start) / 2, 30);
        double returned = loaded;
        for (int i = 0; i < 100 && returned - start > allowed; i++)
        {
            await Task.Delay(100);
            returned = edged.RssMb();
        }

        Assert.True(returned - start <= allowed, $"RSS went from {start:0} MB to {loaded:0} MB under load and was still {returned:0} MB after 10 s of quiet (allowed: {start + allowed:0} MB)");
        // stderr reaches the test asynchronously: the trim's log line may trail the RSS it lowered.
        Assert.True(await edged.WaitForLogAsync("memory returned"), $"RSS fell, but edged never logged a trim: {edged.Log}");
    }
}

/// <summary>Tests that measure a daemon's memory: xunit runs them after the parallel ones, one at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MeasuresProcessMemory
{
    public const string Name = "measures process memory";
}
