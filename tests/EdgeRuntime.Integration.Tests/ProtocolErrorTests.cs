using System.Buffers;
using System.Net.Sockets;
using System.Text;
using EdgeRuntime.Client;
using EdgeRuntime.Protocol;
using EdgeRuntime.Formats;

namespace EdgeRuntime.Integration.Tests;

/// <summary>Bad input over the real socket: typed errors, and the daemon goes on serving everyone else.</summary>
public sealed class ProtocolErrorTests(SharedDaemon daemon) : IClassFixture<SharedDaemon>
{
    private EdgedProcess Edged => daemon.Edged;

    [Theory]
    [InlineData("x", TensorDType.Int64, new long[] { 2, 3 }, "must be float32, got int64")]
    [InlineData("x", TensorDType.Float32, new long[] { 3, 2 }, "must have shape [2,3], got [3,2]")]
    [InlineData("x", TensorDType.Float32, new long[] { 2, 3, 1 }, "must have rank 2")]
    [InlineData("input", TensorDType.Float32, new long[] { 2, 3 }, "has no input named 'input'")]
    public async Task Wrong_name_dtype_or_shape_is_an_invalid_input_error(string name, TensorDType dtype, long[] shape, string message)
    {
        await using var client = await EdgeClient.ConnectAsync(Edged.SocketPath);
        var tensor = new Tensor(name, dtype, shape, new byte[TensorDTypes.ElementCount(shape)!.Value * dtype.ElementSize()]);
        var error = await Assert.ThrowsAsync<EdgeRuntimeException>(() => client.InferAsync("add", [tensor]));
        Assert.Equal(ErrorCodes.InvalidInput, error.Code);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.Equal("ok", (await client.HealthAsync()).Status);
    }

    [Fact]
    public async Task An_oversized_frame_is_refused_and_the_same_connection_goes_on()
    {
        await using var client = await EdgeClient.ConnectAsync(Edged.SocketPath);
        var big = Tensor.Float32("x", [1024, 512], new float[1024 * 512]); // 2 MiB against a 1 MiB limit
        var error = await Assert.ThrowsAsync<EdgeRuntimeException>(() => client.InferAsync("mlp", [big]));
        Assert.Equal(ErrorCodes.FrameTooLarge, error.Code);

        var ok = await client.InferAsync("add", [Tensor.Float32("x", [2, 3], new float[6])]);
        Assert.Equal([1f, 2f, 3f, 4f, 5f, 6f], ok["y"].ToArray<float>());
    }

    [Fact]
    public async Task Garbage_bytes_get_bad_frame_and_a_closed_connection_while_others_are_served()
    {
        await using var bystander = await EdgeClient.ConnectAsync(Edged.SocketPath);
        using var raw = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await raw.ConnectAsync(new UnixDomainSocketEndPoint(Edged.SocketPath));
        await raw.SendAsync(Encoding.ASCII.GetBytes("GET /models HTTP/1.1\r\nHost: edged\r\n\r\n"));

        var received = new MemoryStream();
        var chunk = new byte[4096];
        int n;
        while ((n = await raw.ReceiveAsync(chunk)) > 0)
        {
            received.Write(chunk, 0, n);
        }

        var buffer = new ReadOnlySequence<byte>(received.ToArray());
        Assert.Equal(FrameStatus.Complete, FrameReader.TryReadFrame(ref buffer, int.MaxValue, out var frame, out _));
        var error = ProtocolJson.Deserialize(frame.Json.ToArray(), ProtocolJsonContext.Default.ErrorResponse);
        Assert.Equal(ErrorCodes.BadFrame, error.Code);
        Assert.Equal(0, buffer.Length);

        Assert.Equal("ok", (await bystander.HealthAsync()).Status);
    }

    [Fact]
    public async Task A_client_vanishing_mid_frame_leaves_the_daemon_serving()
    {
        await using var observer = await EdgeClient.ConnectAsync(Edged.SocketPath);
        var raws = new List<Socket>();
        try
        {
            for (int i = 0; i < 5; i++)
            {
                var raw = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                raws.Add(raw);
                await raw.ConnectAsync(new UnixDomainSocketEndPoint(Edged.SocketPath));
                var header = new byte[FrameHeader.Size];
                new FrameHeader(MessageType.Infer, FrameFlags.None, 1, 100, 4000).Write(header);
                await raw.SendAsync(header);
                await raw.SendAsync(new byte[1000]); // the header promised 4100 more bytes
            }

            // The daemon accepts on its own schedule: wait until it serves all five half-sent frames, so that the
            // clients really vanish mid-frame (a connection closed before it was accepted would prove nothing, and
            // would be counted late, after the check below).
            await Eventually.TrueAsync(async () => (await observer.HealthAsync()).Connections == 6, "the daemon to serve the five raw clients", seconds: 10);
        }
        finally
        {
            foreach (var raw in raws)
            {
                raw.Close();
            }
        }

        var ok = await observer.InferAsync("add", [Tensor.Float32("x", [2, 3], new float[6])]);
        Assert.Equal(6, ok["y"].ElementCount);

        // The daemon forgets the vanished connections: only the observer remains (the wait is generous because other
        // suites run beside this one and can keep the two cores busy for a while).
        await Eventually.TrueAsync(async () => (await observer.HealthAsync()).Connections == 1, "only the observer to remain", seconds: 10);
    }

    [Fact]
    public async Task Sixteen_clients_with_many_requests_in_flight_each_get_every_answer_once_and_memory_stays_bounded()
    {
        const int clients = 16, requestsPerClient = 300, inFlightPerClient = 24;
        double rssBefore = Edged.RssMb();
        var connections = new EdgeClient[clients];
        for (int c = 0; c < clients; c++)
        {
            connections[c] = await EdgeClient.ConnectAsync(Edged.SocketPath);
        }

        long answered = 0;
        await Task.WhenAll(Enumerable.Range(0, clients).Select(async c =>
        {
            using var window = new SemaphoreSlim(inFlightPerClient);
            var requests = Enumerable.Range(0, requestsPerClient).Select(async r =>
            {
                await window.WaitAsync();
                try
                {
                    // Every request carries its own identity in x; add's answer is x + [1..6], so y[0] - 1 must echo it.
                    float identity = (c * 10_000) + r;
                    var result = await connections[c].InferAsync("add", [Tensor.Float32("x", [2, 3], [identity, 0, 0, 0, 0, 0])]);
                    Assert.Equal(identity + 1, result["y"].ToArray<float>()[0]);
                    Interlocked.Increment(ref answered);
                }
                finally
                {
                    window.Release();
                }
            });
            await Task.WhenAll(requests);
        }));

        Assert.Equal(clients * requestsPerClient, answered);
        double rssAfter = Edged.RssMb();
        Assert.True(rssAfter < rssBefore + 64, $"RSS grew from {rssBefore:0} MB to {rssAfter:0} MB");
        foreach (var connection in connections)
        {
            await connection.DisposeAsync();
        }
    }
}
