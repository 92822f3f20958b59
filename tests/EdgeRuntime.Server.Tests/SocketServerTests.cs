using System.Net.Sockets;
using EdgeRuntime.Client;
using EdgeRuntime.Protocol;
using EdgeRuntime.Formats;

namespace EdgeRuntime.Server.Tests;

/// <summary>The listener over a real UNIX socket, driven by the client library.</summary>
public sealed class SocketServerTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("edgeruntime-sock-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string SocketPath => Path.Combine(_directory, "edged.sock");

    private (ServerHarness Harness, UnixSocketServer Server) Start(uint[]? allowedUids = null, int maxConnections = 64)
    {
        var options = new ServerOptions { SocketPath = SocketPath, AllowedUids = allowedUids ?? [], MaxConnections = maxConnections };
        var harness = new ServerHarness(options: options);
        var server = new UnixSocketServer(options, harness.Handler, harness.Metrics, NullServerLog.Instance);
        server.Start();
        return (harness, server);
    }

    [Fact]
    public async Task A_client_loads_and_runs_a_model_over_the_socket()
    {
        var (harness, server) = Start();
        await using (server)
        {
            using (harness)
            {
                await using var client = await EdgeClient.ConnectAsync(SocketPath);
                await client.LoadAsync("add", "add.onnx");
                var result = await client.InferAsync("add", [Tensor.Float32("x", [2, 3], [1, 1, 1, 1, 1, 1])]);
                Assert.Equal([2f, 3f, 4f, 5f, 6f, 7f], result["y"].ToArray<float>());
            }
        }
    }

    [Fact(Timeout = 20_000)]
    public async Task Disposing_synchronously_right_after_an_await_does_not_hang()
    {
        var (harness, server) = Start();
        await using (server)
        {
            using (harness)
            {
                var client = await EdgeClient.ConnectAsync(SocketPath);
                await client.HealthAsync();

                // With inline continuations this line runs on the client's receive thread.
                client.Dispose();
                await Assert.ThrowsAsync<EdgeRuntimeException>(() => client.HealthAsync());
            }
        }
    }

    [Fact]
    public async Task The_socket_file_is_mode_0660_and_removed_on_stop()
    {
        var (harness, server) = Start();
        using (harness)
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite, File.GetUnixFileMode(SocketPath));
            await server.StopAsync();
            Assert.False(File.Exists(SocketPath));
        }
    }

    [Fact]
    public async Task A_peer_whose_uid_is_not_allowed_is_refused_with_a_message()
    {
        uint me = uint.Parse(File.ReadAllLines("/proc/self/status").First(l => l.StartsWith("Uid:", StringComparison.Ordinal)).Split('\t', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
        var (harness, server) = Start(allowedUids: [me + 4242]);
        await using (server)
        {
            using (harness)
            {
                await using var client = await EdgeClient.ConnectAsync(SocketPath);
                var error = await Assert.ThrowsAsync<EdgeRuntimeException>(() => client.HelloAsync());
                Assert.Equal(ErrorCodes.PeerNotAllowed, error.Code);
                Assert.Contains($"uid {me}", error.Message, StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public async Task Past_max_connections_a_new_client_is_told_the_daemon_is_busy()
    {
        var (harness, server) = Start(maxConnections: 1);
        await using (server)
        {
            using (harness)
            {
                await using var first = await EdgeClient.ConnectAsync(SocketPath);
                await first.HelloAsync();
                await using var second = await EdgeClient.ConnectAsync(SocketPath);
                var error = await Assert.ThrowsAsync<EdgeRuntimeException>(() => second.HelloAsync());
                Assert.Equal(ErrorCodes.Busy, error.Code);
                await first.HealthAsync();
            }
        }
    }

    [Fact]
    public async Task A_stale_socket_file_is_replaced()
    {
        // A socket file that nothing listens on, as a crashed daemon leaves behind. .NET unlinks the path it bound when
        // the socket is closed, so the file is renamed into place first.
        string bound = SocketPath + ".tmp";
        using (var stale = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            stale.Bind(new UnixDomainSocketEndPoint(bound));
            stale.Listen(1);
            File.Move(bound, SocketPath);
        }

        Assert.True(File.Exists(SocketPath));
        var (harness, server) = Start();
        await using (server)
        {
            using (harness)
            {
                await using var client = await EdgeClient.ConnectAsync(SocketPath);
                Assert.Equal(1, (await client.HelloAsync()).ProtocolVersion);
            }
        }
    }

    [Fact]
    public async Task A_live_daemon_on_the_same_path_is_never_hijacked()
    {
        var (harness, server) = Start();
        await using (server)
        {
            using (harness)
            {
                var second = new UnixSocketServer(harness.Options, harness.Handler, harness.Metrics, NullServerLog.Instance);
                var error = Assert.Throws<SocketPathException>(second.Start);
                Assert.Contains("already serving", error.Message, StringComparison.Ordinal);

                await using var client = await EdgeClient.ConnectAsync(SocketPath);
                await client.HelloAsync();
            }
        }
    }

    [Fact]
    public async Task Stop_finishes_requests_already_accepted()
    {
        var (harness, server) = Start();
        using (harness)
        {
            await using var client = await EdgeClient.ConnectAsync(SocketPath);
            await client.LoadAsync("mlp", "mlp.onnx");
            var input = Tensor.Float32("x", [256, 64], new float[256 * 64]);
            var running = Enumerable.Range(0, 32).Select(_ => client.InferAsync("mlp", [input])).ToArray();

            // Stop while the daemon is working on them (however slow the machine is today).
            for (int i = 0; i < 500 && harness.Metrics.InFlight == 0 && !running.Any(t => t.IsCompleted); i++)
            {
                await Task.Delay(10);
            }

            await server.StopAsync();

            // Every request either completed or failed with a typed error; none hangs, none is answered twice.
            foreach (var task in running)
            {
                var finished = await Task.WhenAny(task, Task.Delay(TimeSpan.FromSeconds(20)));
                Assert.Same(task, finished);
                if (task.IsCompletedSuccessfully)
                {
                    var shape = (await task)["y"].Shape;
                    Assert.Equal([256L, 8L], shape);
                }
                else
                {
                    Assert.IsType<EdgeRuntimeException>(task.Exception!.InnerException);
                }
            }

            Assert.Contains(running, t => t.IsCompletedSuccessfully);
        }
    }

    [Fact]
    public async Task Unloading_while_requests_run_never_breaks_a_running_request()
    {
        var (harness, server) = Start();
        await using (server)
        {
            using (harness)
            {
                await using var client = await EdgeClient.ConnectAsync(SocketPath);
                await client.LoadAsync("mlp", "mlp.onnx");
                var input = Tensor.Float32("x", [64, 64], new float[64 * 64]);
                var running = Enumerable.Range(0, 40).Select(_ => client.InferAsync("mlp", [input])).ToArray();
                await client.UnloadAsync("mlp");

                foreach (var task in running)
                {
                    try
                    {
                        var result = await task;
                        Assert.Equal([64L, 8L], result["y"].Shape);
                    }
                    catch (EdgeRuntimeException e)
                    {
                        Assert.Equal(ErrorCodes.UnknownModel, e.Code);
                    }
                }

                Assert.Empty(await client.ModelsAsync());
            }
        }
    }
}
