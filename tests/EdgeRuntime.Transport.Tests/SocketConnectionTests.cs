using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using Microsoft.Extensions.Time.Testing;

namespace EdgeRuntime.Transport.Tests;

public sealed class SocketConnectionTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("transport-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private (Socket Server, Socket Client) Pair() => UnixSocketPair.Create(_directory);

    /// <summary>
    /// Reads and consumes <paramref name="count"/> bytes. No context is captured, so the code after the await runs on
    /// the thread that delivered them (the receive thread, through the inline pipe scheduler).
    /// </summary>
    private static async Task<byte[]> ReadExactlyAsync(SocketConnection connection, int count)
    {
        var reader = connection.Input;
        while (true)
        {
            var result = await reader.ReadAsync().ConfigureAwait(false);
            if (result.Buffer.Length >= count)
            {
                byte[] bytes = result.Buffer.Slice(0, count).ToArray();
                reader.AdvanceTo(result.Buffer.GetPosition(count));
                return bytes;
            }

            reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
            if (result.IsCompleted)
            {
                throw new EndOfStreamException($"peer closed after {result.Buffer.Length} of {count} bytes");
            }
        }
    }

    [Fact]
    public async Task Bytes_written_on_one_side_arrive_in_order_on_the_other_in_both_directions()
    {
        var (serverSocket, clientSocket) = Pair();
        using var server = new SocketConnection(serverSocket, "test-server");
        using var client = new SocketConnection(clientSocket, "test-client", spinBeforeBlock: TimeSpan.FromMicroseconds(200));
        server.Start();
        client.Start();

        byte[] request = [.. Enumerable.Range(0, 300_000).Select(i => (byte)(i * 31))];
        client.Output.Write(request);
        await client.Output.FlushAsync();
        Assert.Equal(request, await ReadExactlyAsync(server, request.Length));

        byte[] response = [1, 2, 3, 4, 5];
        server.Output.Write(response);
        await server.Output.FlushAsync();
        Assert.Equal(response, await ReadExactlyAsync(client, response.Length));
    }

    [Fact]
    public async Task A_send_on_the_receive_thread_does_not_wait_for_a_peer_that_is_not_reading()
    {
        // A client's await continuation (or the daemon's inline request) runs on the receive thread and may send more
        // than the socket buffer holds while the peer is itself not reading. If that send waited, this side would
        // stop receiving too: a deadlock that only the send timeout (here 5 s) breaks.
        var (aSocket, bSocket) = Pair();
        aSocket.SendTimeout = 5000;
        using var a = new SocketConnection(aSocket, "test-a");
        using var b = bSocket;
        a.Start();
        byte[] big = new byte[8 << 20];
        var secondByteSeen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        async Task<bool> ServeAsync()
        {
            await ReadExactlyAsync(a, 1).ConfigureAwait(false); // resumes on the receive thread
            bool onReceiveThread = a.IsReceiveThread;
            a.Output.Write(big);
            var flush = a.Output.FlushAsync();
            await ReadExactlyAsync(a, 1).ConfigureAwait(false); // only arrives if the receive thread is free
            secondByteSeen.SetResult();
            await flush.ConfigureAwait(false);
            return onReceiveThread;
        }

        var serve = ServeAsync();
        b.Send([1]);
        await Task.Delay(200); // A is now sending the 8 MiB, which B does not read yet
        b.Send([2]);
        await secondByteSeen.Task.WaitAsync(TimeSpan.FromSeconds(4));

        byte[] received = new byte[big.Length];
        int total = 0;
        while (total < received.Length)
        {
            total += b.Receive(received.AsSpan(total));
        }

        Assert.True(await serve, "the serving code did not run on the receive thread, so the test proved nothing");
        Assert.Equal(big.Length, total);
    }

    [Fact]
    public async Task The_input_completes_when_the_peer_closes()
    {
        var (serverSocket, clientSocket) = Pair();
        using var server = new SocketConnection(serverSocket, "test-server");
        server.Start();
        clientSocket.Send([9, 9]);
        clientSocket.Dispose();

        ReadResult result;
        do
        {
            result = await server.Input.ReadAsync();
            server.Input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
        while (!result.IsCompleted);
        Assert.Equal(2, result.Buffer.Length);
    }

    [Fact]
    public async Task Writing_to_a_peer_that_has_gone_is_an_IOException()
    {
        var (serverSocket, clientSocket) = Pair();
        using var server = new SocketConnection(serverSocket, "test-server");
        clientSocket.Dispose();
        server.Output.Write(new byte[1024]);
        await Assert.ThrowsAsync<IOException>(async () =>
        {
            // The first send may land in the kernel buffer before the reset is seen; the next one cannot.
            for (int i = 0; i < 10; i++)
            {
                server.Output.Write(new byte[64 * 1024]);
                await server.Output.FlushAsync();
            }
        });
    }

    [Fact]
    public void The_poll_budget_starts_at_the_cap_shrinks_for_quick_peers_and_stops_for_slow_ones()
    {
        // The budget is twice the peer's typical wait, up to the cap. The peer's waits are made by moving a fake clock,
        // so they are exact: a realistic 1 ms cap, and no sleeping.
        var clock = new FakeTimeProvider();
        long ms = clock.TimestampFrequency / 1000;
        var cap = TimeSpan.FromMilliseconds(1);

        var quick = new ReceiveSpinPolicy(cap, clock);
        Assert.Equal(1 * ms, quick.Budget());
        quick.MarkSent();
        clock.Advance(TimeSpan.FromMilliseconds(0.2));
        quick.MarkReceived();
        Assert.Equal(2 * ms / 5, quick.Budget()); // twice the 0.2 ms it learned

        var slow = new ReceiveSpinPolicy(cap, clock);
        for (int i = 0; i < 3; i++)
        {
            slow.MarkSent();
            clock.Advance(TimeSpan.FromMilliseconds(1.5)); // 1.5 x the cap, where the policy clips a wait: above the cap
            slow.MarkReceived();
        }

        Assert.Equal(0, slow.Budget());
        Assert.Equal(0, new ReceiveSpinPolicy(TimeSpan.Zero, clock).Budget());
    }

    [Fact]
    public void One_long_pause_does_not_stop_polling_for_a_peer_that_is_usually_quick()
    {
        var clock = new FakeTimeProvider();
        long ms = clock.TimestampFrequency / 1000;
        var policy = new ReceiveSpinPolicy(TimeSpan.FromMilliseconds(1), clock);
        for (int i = 0; i < 10; i++)
        {
            policy.MarkSent();
            clock.Advance(TimeSpan.FromMilliseconds(0.1));
            policy.MarkReceived();
        }

        Assert.InRange(policy.Budget(), (ms / 5) - 1, ms / 5); // twice 0.1 ms (up to the rounding of its running mean)
        policy.MarkSent();
        clock.Advance(TimeSpan.FromSeconds(20)); // the app went quiet
        policy.MarkReceived();
        // The pause counts as 1.5 ms, not 20 s: typical 0.8 x 0.1 + 0.2 x 1.5 = 0.38 ms, so the budget is 0.76 ms.
        Assert.InRange(policy.Budget(), (76 * ms / 100) - 1, 76 * ms / 100);
    }
}
