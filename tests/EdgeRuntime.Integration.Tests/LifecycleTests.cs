using EdgeRuntime.Client;
using EdgeRuntime.Protocol;
using EdgeRuntime.Formats;

namespace EdgeRuntime.Integration.Tests;

/// <summary>Starting, stopping, crashing and misconfiguring the published daemon.</summary>
public sealed class LifecycleTests
{
    [Fact]
    public async Task Sigterm_finishes_in_flight_requests_removes_the_socket_and_exits_0()
    {
        var edged = await EdgedProcess.StartAsync(preload: """{ "name": "mlp", "path": "mlp.onnx" }""");
        await using (edged)
        {
            await using var client = await EdgeClient.ConnectAsync(edged.SocketPath);
            var input = Tensor.Float32("x", [2048, 64], new float[2048 * 64]);
            var inFlight = Enumerable.Range(0, 8).Select(_ => client.InferAsync("mlp", [input])).ToArray();
            await Task.WhenAny(inFlight); // the daemon is working on them: now stop it

            Assert.Equal(0, await edged.StopAsync());
            Assert.False(File.Exists(edged.SocketPath));
            Assert.Contains("stopped cleanly", edged.Log, StringComparison.Ordinal);
            foreach (var request in inFlight)
            {
                try
                {
                    var result = await request;
                    Assert.Equal([2048L, 8L], result["y"].Shape);
                }
                catch (EdgeRuntimeException e)
                {
                    // Accepted requests are answered; only requests the daemon had not yet read may be refused.
                    Assert.Contains(e.Code, new[] { "connection_lost", ErrorCodes.ShuttingDown });
                }
            }

            Assert.Contains(inFlight, r => r.IsCompletedSuccessfully);
        }
    }

    [Fact]
    public async Task After_kill_9_the_stale_socket_is_replaced_by_the_next_start()
    {
        string directory = EdgedProcess.Prepare();
        var first = await EdgedProcess.StartInAsync(directory);
        first.KillHard();
        await first.WaitForExitAsync(); // the next start must meet a dead daemon's socket, not a dying one
        Assert.True(File.Exists(Path.Combine(directory, "edged.sock")), "kill -9 leaves the socket file behind");

        await using var second = await EdgedProcess.StartInAsync(directory);
        var status = await second.EdgectlAsync("status");
        Assert.Equal(0, status.ExitCode);
    }

    [Fact]
    public async Task A_second_daemon_on_a_live_socket_refuses_to_start()
    {
        await using var edged = await EdgedProcess.StartAsync();
        using var second = EdgedProcess.Launch(edged.Directory, edged.SocketPath);
        string stderr = await second.StandardError.ReadToEndAsync();
        await second.WaitForExitAsync();

        Assert.NotEqual(0, second.ExitCode);
        Assert.Contains("Another edged is already serving on", stderr, StringComparison.Ordinal);
        Assert.Equal(0, (await edged.EdgectlAsync("status")).ExitCode);
    }

    [Fact]
    public async Task A_peer_uid_not_in_the_allowed_list_is_refused()
    {
        uint me = uint.Parse(File.ReadLines("/proc/self/status").First(l => l.StartsWith("Uid:", StringComparison.Ordinal)).Split('\t', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
        await using var edged = await EdgedProcess.StartAsync($"\"allowedUids\": [{me + 4242}]");
        var status = await edged.EdgectlAsync("status");

        Assert.Equal(1, status.ExitCode);
        Assert.Contains($"peer_not_allowed: uid {me}", status.Stderr, StringComparison.Ordinal);
        Assert.True(await edged.WaitForLogAsync($"uid={me} gid="), edged.Log);
        Assert.True(await edged.WaitForLogAsync("refused, uid/groups not in allowedUids/allowedGids"), edged.Log);
    }

    [Fact]
    public async Task Allowed_groups_are_resolved_by_name_and_let_their_members_in()
    {
        uint me = uint.Parse(File.ReadLines("/proc/self/status").First(l => l.StartsWith("Uid:", StringComparison.Ordinal)).Split('\t', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
        string myGroup = (await ProcessRunner.RunAsync("id", "-gn")).Stdout.Trim();
        await using var edged = await EdgedProcess.StartAsync($"\"allowedUids\": [{me + 4242}], \"allowedGroups\": [\"{myGroup}\"]");
        var status = await edged.EdgectlAsync("status");
        Assert.True(status.ExitCode == 0, status.All);
    }

    [Fact]
    public async Task An_allowed_group_that_does_not_exist_stops_edged_with_the_field_named()
    {
        string directory = EdgedProcess.Prepare("\"allowedGroups\": [\"no-such-group-edgeruntime\"]");
        using var process = EdgedProcess.Launch(directory, Path.Combine(directory, "edged.sock"));
        string stderr = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.Equal(2, process.ExitCode);
        Assert.Contains("'allowedGroups[0]' names 'no-such-group-edgeruntime', which is not a group on this system", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_client_that_stops_reading_its_answers_is_disconnected_and_others_are_served()
    {
        await using var edged = await EdgedProcess.StartAsync(preload: """{ "name": "mlp", "path": "mlp.onnx" }""", extraLimits: "\"sendTimeoutSeconds\": 1");
        await using var observer = await EdgeClient.ConnectAsync(edged.SocketPath);

        // A raw client pipelines requests whose answers (64 KiB each) it never reads, until the socket buffers fill.
        using var greedy = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        greedy.Connect(new System.Net.Sockets.UnixDomainSocketEndPoint(edged.SocketPath));
        byte[] input = new byte[2048 * 64 * 4];
        byte[] json = System.Text.Encoding.UTF8.GetBytes($$"""{"model":"mlp","inputs":[{"name":"x","dtype":"float32","shape":[2048,64],"offset":0,"length":{{input.Length}}}]}""");
        var frame = new byte[FrameHeader.Size + json.Length + input.Length];
        greedy.SendTimeout = 10_000;
        try
        {
            for (int i = 0; i < 24; i++)
            {
                new FrameHeader(MessageType.Infer, FrameFlags.None, (ulong)(i + 1), json.Length, input.Length).Write(frame);
                json.CopyTo(frame, FrameHeader.Size);
                greedy.Send(frame);
            }
        }
        catch (System.Net.Sockets.SocketException)
        {
            // The daemon may hang up on us before we finish sending: that is the behaviour under test.
        }

        await Eventually.TrueAsync(async () => (await observer.HealthAsync()).Connections <= 1, "the greedy connection to be dropped", seconds: 10);
        Assert.Equal(1, (await observer.HealthAsync()).Connections);
        Assert.True(await edged.WaitForLogAsync("could not send response"), edged.Log);
        var ok = await observer.InferAsync("mlp", [Tensor.Float32("x", [1, 64], new float[64])]);
        Assert.Equal([1L, 8L], ok["y"].Shape);
    }

    [Fact]
    public async Task The_socket_file_is_created_with_mode_0660()
    {
        await using var edged = await EdgedProcess.StartAsync();
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite, File.GetUnixFileMode(edged.SocketPath));
    }

    [Fact]
    public async Task A_model_that_fails_to_preload_makes_health_degraded_but_the_daemon_serves()
    {
        await using var edged = await EdgedProcess.StartAsync(preload: """{ "name": "broken", "path": "corrupt.onnx" }, { "name": "add", "path": "add.onnx" }""");
        await using var client = await EdgeClient.ConnectAsync(edged.SocketPath);
        var health = await client.HealthAsync();

        Assert.Equal("degraded", health.Status);
        Assert.Contains(health.Problems, p => p.StartsWith("model broken:", StringComparison.Ordinal));
        Assert.Equal(6, (await client.InferAsync("add", [Tensor.Float32("x", [2, 3], new float[6])]))["y"].ElementCount);
    }

    [Theory]
    [InlineData("\"limits\": { \"maxFrameBytes\": 10 }", "'limits.maxFrameBytes' must be at least 1024")]
    [InlineData("\"threads\": { \"intraOp\": 0 }", "'threads.intraOp' must be at least 1")]
    [InlineData("\"sokcetPath\": \"/tmp/x\"", "sokcetPath")]
    public async Task A_bad_configuration_exits_2_naming_the_field(string extra, string message)
    {
        string directory = EdgedProcess.Prepare(extra);
        var result = await ProcessRunner.RunAsync(Paths.Edged, "--config", Path.Combine(directory, "edged.json"), "--socket", Path.Combine(directory, "edged.sock"));
        Assert.Equal(2, result.ExitCode);
        Assert.Contains(message, result.Stderr, StringComparison.Ordinal);
    }
}
