using System.Runtime.InteropServices;
using EdgeRuntime.Inference.Batching;
using EdgeRuntime.Onnx;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Inference.Tests;

/// <summary>
/// Requests that wait for a worker, for a model loaded with maxBatch, run as one ONNX Runtime run, and each gets exactly
/// the rows it would have got alone. A worker is held busy by a request whose input region blocks until released.
/// </summary>
public sealed class BatchingTests : IDisposable
{
    private readonly RegistryHarness _harness = new(workers: 1);

    public void Dispose() => _harness.Dispose();

    [Fact]
    public async Task Requests_waiting_for_the_worker_run_as_one_batch_and_each_gets_its_own_rows()
    {
        await _harness.Registry.LoadAsync("mlp", "mlp.onnx", batching: new BatchingOptions(8));
        await _harness.Registry.LoadAsync("holder", "mlp.onnx");
        var random = new Random(3);
        long[] rows = [1, 2, 1, 3, 1];
        var inputs = rows.Select(n => RandomFloats(random, (int)n * 64)).ToArray();
        var alone = new List<float[]>();
        foreach (var (x, n) in inputs.Zip(rows))
        {
            using var result = await Mlp(x, n);
            Assert.Equal(1, result.BatchSize); // the worker was free: it ran at once, alone
            alone.Add(Floats(result));
        }

        using var holder = new BlockingRegion(64 * sizeof(float));
        var held = Task.Run(() => Hold(holder));
        Assert.True(holder.Entered.Wait(TimeSpan.FromSeconds(10)));
        var batched = inputs.Zip(rows).Select(pair => Task.Run(() => Mlp(pair.First, pair.Second).AsTask())).ToArray();
        await WaitUntilGathered("mlp", rows.Length);
        holder.Release();
        (await held).Dispose();

        for (int i = 0; i < rows.Length; i++)
        {
            using var result = await batched[i].WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(rows.Length, result.BatchSize);
            Assert.Equal([rows[i], 8L], result.Outputs[0].Shape);
            var y = Floats(result);
            Assert.Equal(alone[i].Length, y.Length);
            for (int j = 0; j < y.Length; j++)
            {
                Assert.Equal(alone[i][j], y[j], 1e-4f); // a batched GEMM may round differently from one row's
            }
        }

        Assert.Equal(0, _harness.Queue.Depth);
        Assert.Equal(2 * rows.Length, _harness.Registry.Acquire("mlp").Latency.Snapshot().Count);
        _harness.Registry.Acquire("mlp").Release();
    }

    [Fact]
    public async Task A_batch_axis_other_than_the_first_and_a_shared_input_are_joined_and_split_per_request()
    {
        // y = x·k, s2 = s + 1 with s float32[2,N,3] (a recurrent state's layout) and k a scalar every request shares.
        File.WriteAllBytes(Path.Combine(_harness.ModelDirectory, "stateful.onnx"), new OnnxModelBuilder()
            .Input("x", TensorDType.Float32, "N", 4)
            .Input("s", TensorDType.Float32, 2, "N", 3)
            .Input("k", TensorDType.Float32)
            .Initializer("one", TensorDType.Float32, [1], new float[] { 1 }.AsSpan())
            .Node("Mul", ["x", "k"], ["y"])
            .Node("Add", ["s", "one"], ["s2"])
            .Output("y", TensorDType.Float32, "N", 4)
            .Output("s2", TensorDType.Float32, 2, "N", 3)
            .Build());
        var axes = new Dictionary<string, int> { ["x"] = 0, ["s"] = 1, ["y"] = 0, ["s2"] = 1 };
        await _harness.Registry.LoadAsync("stateful", "stateful.onnx", batching: new BatchingOptions(4, axes));
        await _harness.Registry.LoadAsync("holder", "mlp.onnx");

        using var holder = new BlockingRegion(64 * sizeof(float));
        var held = Task.Run(() => Hold(holder));
        Assert.True(holder.Entered.Wait(TimeSpan.FromSeconds(10)));
        // Three requests with k = 2 (one batch) and one with k = 3, which must not join them.
        float[] ks = [2, 2, 3, 2];
        var runs = ks.Select((k, i) => Task.Run(() => Stateful(i, k).AsTask())).ToArray();
        await WaitUntilGathered("stateful", ks.Length);
        holder.Release();
        (await held).Dispose();

        for (int i = 0; i < ks.Length; i++)
        {
            using var result = await runs[i].WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(ks[i] == 2 ? 3 : 1, result.BatchSize);
            var (x, s) = StatefulInputs(i);
            Assert.Equal([1L, 4L], result.Outputs[0].Shape);
            Assert.Equal([2L, 1L, 3L], result.Outputs[1].Shape);
            var y = MemoryMarshal.Cast<byte, float>(result.Payload.Span.Slice((int)result.Outputs[0].Offset, (int)result.Outputs[0].Length)).ToArray();
            var s2 = MemoryMarshal.Cast<byte, float>(result.Payload.Span.Slice((int)result.Outputs[1].Offset, (int)result.Outputs[1].Length)).ToArray();
            Assert.Equal(x.Select(v => v * ks[i]), y);
            Assert.Equal(s.Select(v => v + 1), s2);
        }
    }

    [Fact]
    public async Task A_leader_whose_caller_gives_up_still_runs_its_batch_and_an_empty_request_runs_alone()
    {
        await _harness.Registry.LoadAsync("mlp", "mlp.onnx", batching: new BatchingOptions(8));
        await _harness.Registry.LoadAsync("holder", "mlp.onnx");
        var random = new Random(4);
        float[] first = RandomFloats(random, 64), second = RandomFloats(random, 64);
        using var holder = new BlockingRegion(64 * sizeof(float));
        var held = Task.Run(() => Hold(holder));
        Assert.True(holder.Entered.Wait(TimeSpan.FromSeconds(10)));

        using var giveUp = new CancellationTokenSource();
        var leader = Task.Run(() => Mlp(first, 1, giveUp.Token).AsTask());
        await WaitUntilGathered("mlp", 1);
        var follower = Task.Run(() => Mlp(second, 1).AsTask());
        var empty = Task.Run(() => Mlp([], 0).AsTask()); // nothing to share a run with: it waits for a worker alone
        await WaitUntilGathered("mlp", 2, queued: 3);
        giveUp.Cancel(); // the leader's caller gives up; the other client's request in its batch must not fail
        holder.Release();
        (await held).Dispose();

        using var led = await leader.WaitAsync(TimeSpan.FromSeconds(10));
        using var followed = await follower.WaitAsync(TimeSpan.FromSeconds(10));
        using var nothing = await empty.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(2, led.BatchSize);
        Assert.Equal(2, followed.BatchSize);
        Assert.Equal(1, nothing.BatchSize);
        Assert.Equal([0L, 8L], nothing.Outputs[0].Shape);
    }

    [Fact]
    public async Task A_model_that_cannot_be_batched_as_asked_is_refused_with_the_port_named_and_not_loaded()
    {
        var fixedFrame = await Assert.ThrowsAsync<EdgeRuntimeException>(() => _harness.Registry.LoadAsync("frame", "frame-mean.onnx", batching: new BatchingOptions(4)));
        Assert.Equal(ErrorCodes.BadRequest, fixedFrame.Code);
        Assert.Contains("'frame'", fixedFrame.Message, StringComparison.Ordinal);
        Assert.Contains("batchAxes", fixedFrame.Message, StringComparison.Ordinal);
        Assert.False(_harness.Registry.TryGet("frame", out _));

        var unknownPort = await Assert.ThrowsAsync<EdgeRuntimeException>(() => _harness.Registry.LoadAsync("mlp", "mlp.onnx", batching: new BatchingOptions(4, new Dictionary<string, int> { ["x"] = 0, ["z"] = 0 })));
        Assert.Contains("'z'", unknownPort.Message, StringComparison.Ordinal);

        var outputLeftOut = await Assert.ThrowsAsync<EdgeRuntimeException>(() => _harness.Registry.LoadAsync("mlp", "mlp.onnx", batching: new BatchingOptions(4, new Dictionary<string, int> { ["x"] = 0 })));
        Assert.Contains("Output 'y'", outputLeftOut.Message, StringComparison.Ordinal);

        var fixedAxis = await Assert.ThrowsAsync<EdgeRuntimeException>(() => _harness.Registry.LoadAsync("mlp", "mlp.onnx", batching: new BatchingOptions(4, new Dictionary<string, int> { ["x"] = 1, ["y"] = 0 })));
        Assert.Contains("dimension 1", fixedAxis.Message, StringComparison.Ordinal);

        var tooMany = await Assert.ThrowsAsync<EdgeRuntimeException>(() => _harness.Registry.LoadAsync("mlp", "mlp.onnx", batching: new BatchingOptions(BatchingOptions.Limit + 1)));
        Assert.Contains("maxBatch", tooMany.Message, StringComparison.Ordinal);
        Assert.False(_harness.Registry.TryGet("mlp", out _));

        Assert.Throws<EdgeRuntimeException>(() => BatchingOptions.From(null, new Dictionary<string, int> { ["x"] = 0 }));
        Assert.Null(BatchingOptions.From(null, null));

        var loaded = await _harness.Registry.LoadAsync("mlp", "mlp.onnx", batching: new BatchingOptions(1));
        Assert.Null(loaded.Batching); // 1: no batching, as without the option
        Assert.Null(loaded.ToInfo().MaxBatch);
    }

    private ValueTask<InferenceResult> Mlp(float[] x, long rows, CancellationToken cancellationToken = default) =>
        _harness.Queue.RunAsync(_harness.Registry, new InferRequest("mlp", [new TensorDescriptor("x", "float32", [rows, 64], 0, x.Length * sizeof(float))]), MemoryMarshal.AsBytes(x.AsSpan()).ToArray(), cancellationToken);

    private ValueTask<InferenceResult> Stateful(int seed, float k)
    {
        var (x, s) = StatefulInputs(seed);
        byte[] payload = new byte[16 + 24 + 8];
        MemoryMarshal.AsBytes(x.AsSpan()).CopyTo(payload);
        MemoryMarshal.AsBytes(s.AsSpan()).CopyTo(payload.AsSpan(16));
        BitConverter.TryWriteBytes(payload.AsSpan(40), k);
        return _harness.Queue.RunAsync(_harness.Registry, new InferRequest("stateful",
        [
            new TensorDescriptor("x", "float32", [1, 4], 0, 16),
            new TensorDescriptor("s", "float32", [2, 1, 3], 16, 24),
            new TensorDescriptor("k", "float32", [], 40, 4),
        ]), payload);
    }

    private static (float[] X, float[] S) StatefulInputs(int seed) =>
        ([.. Enumerable.Range(0, 4).Select(j => (seed * 10) + j + 0.5f)], [.. Enumerable.Range(0, 6).Select(j => (seed * 100) + j)]);

    /// <summary>Runs the holder model on the blocking region: its run keeps the only worker until the region is released.</summary>
    private InferenceResult Hold(BlockingRegion region) =>
        _harness.Queue.RunAsync(_harness.Registry, new InferRequest("holder", [new TensorDescriptor("x", "float32", [1, 64], 0, 256) { Region = "r" }]), ReadOnlyMemory<byte>.Empty, regions: region).AsTask().GetAwaiter().GetResult();

    /// <param name="queued">Requests holding a queue place meanwhile (default: those gathered).</param>
    private async Task WaitUntilGathered(string model, int count, int? queued = null)
    {
        var loaded = _harness.Registry.Acquire(model);
        try
        {
            for (int i = 0; i < 2000 && (loaded.GatheredRequests < count || _harness.Queue.Depth < (queued ?? count)); i++)
            {
                await Task.Delay(5);
            }

            Assert.Equal(count, loaded.GatheredRequests);
            Assert.Equal(queued ?? count, _harness.Queue.Depth); // each still holds its queue place
        }
        finally
        {
            loaded.Release();
        }
    }

    private static float[] RandomFloats(Random random, int count) => [.. Enumerable.Range(0, count).Select(_ => (float)((random.NextDouble() * 2) - 1))];

    private static float[] Floats(InferenceResult result) => MemoryMarshal.Cast<byte, float>(result.Payload.Span).ToArray();

    /// <summary>A region whose second lookup (the run's, after validation's) blocks until released.</summary>
    private sealed class BlockingRegion(int bytes) : ITensorRegions, IDisposable
    {
        private readonly byte[] _bytes = GC.AllocateArray<byte>(bytes, pinned: true);
        private readonly ManualResetEventSlim _released = new();
        private int _lookups;

        public ManualResetEventSlim Entered { get; } = new();

        public Memory<byte> Get(string name)
        {
            if (Interlocked.Increment(ref _lookups) == 2)
            {
                Entered.Set();
                _released.Wait(TimeSpan.FromSeconds(30));
            }

            return _bytes;
        }

        public void Release() => _released.Set();

        public void Dispose()
        {
            _released.Dispose();
            Entered.Dispose();
        }
    }
}
