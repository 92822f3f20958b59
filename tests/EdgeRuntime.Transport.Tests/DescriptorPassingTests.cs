using System.Net.Sockets;

namespace EdgeRuntime.Transport.Tests;

/// <summary>Descriptors sent with bytes arrive tied to those bytes' stream positions, and none is left open.</summary>
public sealed class DescriptorPassingTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("descriptors-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private (Socket Server, Socket Client) Pair() => UnixSocketPair.Create(_directory);

    [Fact(Timeout = 20_000)]
    public async Task A_descriptor_is_taken_with_the_bytes_it_came_with_and_strays_are_closed()
    {
        var (server, client) = Pair();
        using var connection = new SocketConnection(server, "descriptors", receiveDescriptors: true);
        connection.Start();
        using (client)
        {
            int first = SharedMemory.CreateSealed("first-frame", 4096);
            int second = SharedMemory.CreateSealed("second-frame", 8192);
            client.Send(new byte[100]); // bytes [0, 100): no descriptor
            DescriptorPassing.Send(client, new byte[50], first); // [100, 150)
            DescriptorPassing.Send(client, new byte[50], second); // [150, 200)
            DescriptorPassing.Close(first);
            DescriptorPassing.Close(second);

            await ReadAsync(connection, 200);
            Assert.Empty(connection.Take(0, 100));
            int[] taken = connection.Take(150, 200); // skips the one of [100, 150), which nobody claimed: closed
            Assert.Single(taken);
            Assert.Equal(8192, SharedMemory.Size(taken[0]));
            Assert.Equal(SharedMemory.SealShrink | SharedMemory.SealGrow, SharedMemory.Seals(taken[0]) & (SharedMemory.SealShrink | SharedMemory.SealGrow));
            DescriptorPassing.Close(taken[0]);
            Assert.Equal(0, OpenDescriptorsTo("first-frame"));
            Assert.Equal(0, OpenDescriptorsTo("second-frame"));
        }
    }

    [Fact(Timeout = 20_000)]
    public async Task Descriptors_nobody_took_are_closed_with_the_connection()
    {
        var (server, client) = Pair();
        var connection = new SocketConnection(server, "descriptors", receiveDescriptors: true);
        connection.Start();
        using (client)
        {
            int fd = SharedMemory.CreateSealed("never-taken", 4096);
            DescriptorPassing.Send(client, new byte[10], fd);
            DescriptorPassing.Close(fd);
            await ReadAsync(connection, 10);
            Assert.Equal(1, OpenDescriptorsTo("never-taken")); // held for a Take that never comes
            connection.Dispose();
            Assert.Equal(0, OpenDescriptorsTo("never-taken"));
        }
    }

    [Fact]
    public void A_region_is_one_memory_however_many_times_it_is_mapped()
    {
        int fd = SharedMemory.CreateSealed("mapped", 4096);
        using var one = SharedMemory.Map(fd, 4096);
        using var two = SharedMemory.Map(fd, 4096);
        DescriptorPassing.Close(fd);
        one.Memory.Span[100] = 42;
        Assert.Equal(42, two.Memory.Span[100]); // one memory, two mappings: what the daemon and the client share
    }

    private static async Task ReadAsync(SocketConnection connection, int count)
    {
        while (true)
        {
            var result = await connection.Input.ReadAsync();
            if (result.Buffer.Length >= count)
            {
                connection.Input.AdvanceTo(result.Buffer.GetPosition(count));
                return;
            }

            connection.Input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }

    private static int OpenDescriptorsTo(string memfdName) =>
        Directory.GetFiles("/proc/self/fd").Count(fd => new FileInfo(fd).LinkTarget is { } link && link.Contains($"memfd:{memfdName}", StringComparison.Ordinal));
}
