using System.Runtime.InteropServices;
using EdgeRuntime.Client;
using EdgeRuntime.Formats;
using EdgeRuntime.Protocol;
using EdgeRuntime.Transport;

namespace EdgeRuntime.Server.Tests;

/// <summary>Shared-memory regions over a real socket: registered, used by infer, refused when unsafe, never leaked.</summary>
public sealed class SharedMemoryTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("edgeruntime-shm-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string SocketPath => Path.Combine(_directory, "edged.sock");

    private (ServerHarness Harness, UnixSocketServer Server) Start(bool enabled = true, int maxRegions = 16)
    {
        var options = new ServerOptions { SocketPath = SocketPath, SharedMemoryEnabled = enabled, MaxRegionsPerConnection = maxRegions, MaxRegionBytes = 4 * 1024 * 1024 };
        var harness = new ServerHarness(options: options);
        var server = new UnixSocketServer(options, harness.Handler, harness.Metrics, NullServerLog.Instance);
        server.Start();
        return (harness, server);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_camera_frame_in_a_region_gives_the_same_answer_as_the_payload_and_the_output_lands_in_the_region()
    {
        var (harness, server) = Start();
        using (harness)
        await using (server)
        {
            await using var client = await EdgeClient.ConnectAsync(SocketPath);
            Assert.Contains(ProtocolFeatures.SharedMemory, (await client.HelloAsync()).Features);
            await client.LoadAsync("camera", "frame-mean.onnx");
            var pixels = new byte[480 * 640 * 3];
            new Random(3).NextBytes(pixels);
            var frame = new Tensor("frame", TensorDType.UInt8, [1, 480, 640, 3], pixels);
            var overSocket = (await client.InferAsync("camera", [frame]))["mean"].ToArray<float>();

            using var region = await client.RegisterRegionAsync("cam", pixels.Length + 4096);
            Assert.Equal(pixels.Length + 4096, region.Size);
            var copied = (await client.InferAsync("camera", [frame], region))["mean"].ToArray<float>();
            Assert.Equal(overSocket, copied);

            // Zero copy: the frame is written into the region once, the answer read where the daemon wrote it.
            pixels.CopyTo(region.Memory.Span);
            var input = new TensorDescriptor("frame", "uint8", [1, 480, 640, 3], 0, pixels.Length) { Region = "cam" };
            var result = await client.InferInRegionAsync("camera", region, [input], new RegionRange("cam", pixels.Length, 4096));
            var mean = result["mean"];
            Assert.Equal(overSocket, mean.ToArray<float>());
            Assert.Equal(overSocket, MemoryMarshal.Cast<byte, float>(region.Memory.Span.Slice(pixels.Length, 12)).ToArray());

            // Outputs may also come back in the payload while the inputs stay in the region.
            var toPayload = await client.InferInRegionAsync("camera", region, [input], outputRange: null);
            Assert.Equal(overSocket, toPayload["mean"].ToArray<float>());
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task Region_errors_are_typed_and_the_connection_goes_on()
    {
        var (harness, server) = Start(maxRegions: 2);
        using (harness)
        await using (server)
        {
            await using var client = await EdgeClient.ConnectAsync(SocketPath);
            await client.LoadAsync("add", "add.onnx");
            using var region = await client.RegisterRegionAsync("r", 64);
            var inRegion = new TensorDescriptor("x", "float32", [2, 3], 0, 24) { Region = "r" };

            await AssertCode(ErrorCodes.UnknownRegion, client.InferInRegionAsync("add", region, [inRegion with { Region = "nope" }], null));
            await AssertCode(ErrorCodes.RegionOutOfBounds, client.InferInRegionAsync("add", region, [inRegion with { Offset = 48 }], null));
            await AssertCode(ErrorCodes.RegionOutOfBounds, client.InferInRegionAsync("add", region, [inRegion], new RegionRange("r", 60, 4)));
            await AssertCode(ErrorCodes.RegionOutOfBounds, client.InferInRegionAsync("add", region, [inRegion], new RegionRange("r", 28, 32)));

            // The outputs (24 bytes) do not fit in 16: the model ran, nothing was written, and the error says so.
            region.Memory.Span.Fill(0xAB);
            var error = await AssertCode(ErrorCodes.RegionOutOfBounds, client.InferInRegionAsync("add", region, [inRegion], new RegionRange("r", 32, 16)));
            Assert.Contains("nothing was written", error.Message, StringComparison.Ordinal);
            Assert.All(region.Memory.Span[32..].ToArray(), b => Assert.Equal(0xAB, b));

            await AssertCode(ErrorCodes.RegionInvalid, client.RegisterRegionAsync("r", 64)); // name taken
            using var second = await client.RegisterRegionAsync("s", 64);
            await AssertCode(ErrorCodes.RegionInvalid, client.RegisterRegionAsync("t", 64)); // limit of 2
            await AssertCode(ErrorCodes.RegionInvalid, client.RegisterRegionAsync("big", 8 * 1024 * 1024)); // over maxRegionBytes

            Assert.True((await client.UnregisterRegionAsync(second)).Unregistered);
            await AssertCode(ErrorCodes.UnknownRegion, client.UnregisterRegionAsync(second));
            var fine = await client.InferAsync("add", [Tensor.Float32("x", [2, 3], [1, 1, 1, 1, 1, 1])], region);
            Assert.Equal([2f, 3f, 4f, 5f, 6f, 7f], fine["y"].ToArray<float>());
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task An_int64_input_in_a_region_is_answered_from_its_private_copy()
    {
        var (harness, server) = Start();
        using (harness)
        await using (server)
        {
            await using var client = await EdgeClient.ConnectAsync(SocketPath);
            await client.LoadAsync("double", "double.onnx");
            using var region = await client.RegisterRegionAsync("ints", 4096);
            long[] x = [1, -2, 3, long.MaxValue / 2];
            var result = await client.InferAsync("double", [Tensor.Int64("x", [4], x)], region);
            Assert.Equal(x.Select(v => v * 2).ToArray(), result["y"].ToArray<long>());
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task A_region_belongs_to_the_connection_that_registered_it()
    {
        var (harness, server) = Start();
        using (harness)
        await using (server)
        {
            await using var owner = await EdgeClient.ConnectAsync(SocketPath);
            await using var other = await EdgeClient.ConnectAsync(SocketPath);
            await owner.LoadAsync("add", "add.onnx");
            using var region = await owner.RegisterRegionAsync("mine", 128);
            var input = new TensorDescriptor("x", "float32", [2, 3], 0, 24) { Region = "mine" };
            await AssertCode(ErrorCodes.UnknownRegion, other.InferInRegionAsync("add", region, [input], null));
            await owner.InferInRegionAsync("add", region, [input], null);
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task Without_the_configuration_a_region_is_refused_and_its_descriptor_is_not_kept()
    {
        var (harness, server) = Start(enabled: false);
        using (harness)
        await using (server)
        {
            await using var client = await EdgeClient.ConnectAsync(SocketPath);
            Assert.DoesNotContain(ProtocolFeatures.SharedMemory, (await client.HelloAsync()).Features);
            await AssertCode(ErrorCodes.SharedMemoryDisabled, client.RegisterRegionAsync("cam", 4096));
            Assert.Equal(0, DescriptorsOf("memfd:edgeruntime-cam"));
            await client.LoadAsync("add", "add.onnx");

            using var raw = await RawFrames.ConnectAsync(SocketPath);
            await raw.SendAsync(RawFrames.Frame(MessageType.Infer, 1, """{"model":"add","inputs":[{"name":"x","dtype":"float32","shape":[2,3],"offset":0,"length":24,"region":"cam"}]}"""));
            var answer = (await raw.ReadFramesAsync(1, TimeSpan.FromSeconds(10)))[0];
            Assert.True(answer.Header.IsError);
            Assert.Contains(ErrorCodes.UnknownRegion, answer.Json, StringComparison.Ordinal);
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task Unsafe_descriptors_are_refused_and_none_is_kept()
    {
        var (harness, server) = Start();
        using (harness)
        await using (server)
        {
            using var raw = await RawFrames.ConnectAsync(SocketPath);

            // Not sealed: the client could shrink it under the daemon's mapping.
            int unsealed = UnsealedMemfd.Create(4096);
            raw.SendWithDescriptor(RawFrames.Frame(MessageType.RegionRegister, 1, """{"name":"a"}"""), unsealed);

            // Not a memfd at all.
            string path = Path.Combine(_directory, "plain.bin");
            File.WriteAllBytes(path, new byte[4096]);
            using var plain = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
            raw.SendWithDescriptor(RawFrames.Frame(MessageType.RegionRegister, 2, """{"name":"b"}"""), (int)plain.DangerousGetHandle());

            // No descriptor, and a descriptor sent with a frame that is not region-register.
            await raw.SendAsync(RawFrames.Frame(MessageType.RegionRegister, 3, """{"name":"c"}"""));
            int stray = SharedMemory.CreateSealed("stray", 4096);
            raw.SendWithDescriptor(RawFrames.Frame(MessageType.Health, 4, "{}"), stray);

            var frames = await raw.ReadFramesAsync(4, TimeSpan.FromSeconds(10));
            string Answer(ulong id) => frames.Single(f => f.Header.RequestId == id).Json;
            Assert.Contains("sealed against shrinking and growing", Answer(1), StringComparison.Ordinal);
            Assert.Contains("not a memfd", Answer(2), StringComparison.Ordinal);
            Assert.Contains("No file descriptor came with", Answer(3), StringComparison.Ordinal);
            Assert.All(new ulong[] { 1, 2, 3 }, id => Assert.Contains(ErrorCodes.RegionInvalid, Answer(id), StringComparison.Ordinal));
            Assert.Contains("\"status\"", Answer(4), StringComparison.Ordinal);

            DescriptorPassing.Close(unsealed);
            DescriptorPassing.Close(stray);
            plain.Dispose();

            // The daemon closed every copy it received (it shares this process's descriptor table here).
            Assert.Equal(0, DescriptorsOf("memfd:unsealed"));
            Assert.Equal(0, DescriptorsOf("memfd:stray"));
            Assert.Equal(0, DescriptorsOf(path));
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task A_flood_of_descriptors_is_closed_as_it_arrives_not_held()
    {
        var (harness, server) = Start();
        using (harness)
        await using (server)
        {
            using var raw = await RawFrames.ConnectAsync(SocketPath);
            int flood = SharedMemory.CreateSealed("flood", 4096);
            byte[] health = RawFrames.Frame(MessageType.Health, 1, "{}");

            // The header one byte per sendmsg, each with a copy of the memfd: 24 descriptors before any frame is whole.
            for (int i = 0; i < FrameHeader.Size; i++)
            {
                raw.SendWithDescriptor(health[i..(i + 1)], flood);
            }

            DescriptorPassing.Close(flood);
            int held = 0;
            for (int settled = 0; settled < 10; settled++)
            {
                await Task.Delay(30);
                int now = DescriptorsOf("memfd:flood");
                settled = now == held ? settled : 0;
                held = now;
            }

            Assert.InRange(held, 1, 8); // the daemon holds a few for the frame they came with, never all 24

            await raw.SendAsync(health[FrameHeader.Size..]);
            var answer = (await raw.ReadFramesAsync(1, TimeSpan.FromSeconds(10)))[0];
            Assert.False(answer.Header.IsError);
            Assert.Equal(0, DescriptorsOf("memfd:flood")); // a health frame claims none: all closed
        }
    }

    [Fact]
    public void A_region_unregistered_under_a_running_request_stays_mapped_until_the_request_lets_go()
    {
        var regions = new ConnectionRegions(new ServerOptions { SocketPath = "unused", SharedMemoryEnabled = true });
        int fd = SharedMemory.CreateSealed("leased", 4096);
        regions.Register("""{"name":"leased"}"""u8.ToArray(), [fd]);
        var request = new InferRequest("m", [new TensorDescriptor("x", "float32", [1], 0, 4) { Region = "leased" }]);
        var lease = regions.Lease(request)!;
        Assert.Equal(1, Mappings("leased"));

        regions.Unregister("""{"name":"leased"}"""u8.ToArray());
        Assert.Equal(ErrorCodes.UnknownRegion, Assert.Throws<EdgeRuntimeException>(() => regions.Lease(request)).Code);
        lease.Get("leased").Span[0] = 7; // still mapped: the running request can read and write it
        Assert.Equal(1, Mappings("leased"));

        lease.Dispose();
        Assert.Equal(0, Mappings("leased"));
        regions.Dispose();
    }

    [Fact(Timeout = 30_000)]
    public async Task Requests_racing_an_unregister_either_finish_or_are_refused_and_closing_the_connection_unmaps_every_region()
    {
        var (harness, server) = Start();
        using (harness)
        await using (server)
        {
            await using var client = await EdgeClient.ConnectAsync(SocketPath);
            await client.LoadAsync("mlp", "mlp.onnx");
            var region = await client.RegisterRegionAsync("batch", 1024 * 1024);
            var x = new float[256 * 64];
            x.AsSpan().Fill(0.5f);
            MemoryMarshal.AsBytes(x.AsSpan()).CopyTo(region.Memory.Span);
            var input = new TensorDescriptor("x", "float32", [256, 64], 0, x.Length * 4) { Region = "batch" };
            var expected = (await client.InferAsync("mlp", [Tensor.Float32("x", [256, 64], x)]))["y"].ToArray<float>();

            var running = Enumerable.Range(0, 16).Select(_ => client.InferInRegionAsync("mlp", region, [input], null)).ToArray();
            await client.UnregisterRegionAsync(region);
            foreach (var task in running)
            {
                try
                {
                    Assert.Equal(expected, (await task)["y"].ToArray<float>());
                }
                catch (EdgeRuntimeException e) when (e.Code == ErrorCodes.UnknownRegion)
                {
                    // Read after the unregister: refused, never run on unmapped memory.
                }
            }

            region.Dispose();
            Assert.Equal(0, Mappings("edgeruntime-batch")); // the daemon unmapped it once the last request let go

            using var kept = await client.RegisterRegionAsync("kept", 64 * 1024);
            kept.Dispose(); // our own mapping is gone; the daemon's stays until the connection closes
            Assert.Equal(1, Mappings("edgeruntime-kept"));
        }

        Assert.Equal(0, Mappings("edgeruntime-kept"));
        Assert.Equal(0, Mappings("edgeruntime-batch"));
    }

    private static async Task<EdgeRuntimeException> AssertCode(string code, Task task)
    {
        var error = await Assert.ThrowsAsync<EdgeRuntimeException>(() => task);
        Assert.Equal(code, error.Code);
        return error;
    }

    /// <summary>Open descriptors of this process that lead to <paramref name="target"/> (tests in parallel open others).</summary>
    private static int DescriptorsOf(string target) =>
        Directory.GetFiles("/proc/self/fd").Count(fd => new FileInfo(fd).LinkTarget is { } link && link.Contains(target, StringComparison.Ordinal));

    private static int Mappings(string memfdName) =>
        File.ReadLines("/proc/self/maps").Count(line => line.Contains($"memfd:{memfdName}", StringComparison.Ordinal));
}
