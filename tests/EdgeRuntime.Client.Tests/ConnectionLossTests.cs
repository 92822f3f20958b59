using System.Text;
using EdgeRuntime.Formats;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Client.Tests;

/// <summary>When the connection ends, every request waiting on it fails promptly with a clear error; none hangs.</summary>
public sealed class ConnectionLossTests
{
    [Fact]
    public async Task The_daemon_closing_the_connection_fails_every_pending_request_with_connection_lost()
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();

        Task[] calls =
        [
            client.UnloadAsync("a"),
            client.InferAsync("add", [Tensor.Float32("x", [1], [1f])]),
            client.HealthAsync(),
        ];
        await server.ReadAsync(calls.Length);
        server.CloseConnection();

        foreach (var call in calls)
        {
            var error = await Assert.ThrowsAsync<EdgeRuntimeException>(() => call.WaitAsync(ScriptedServer.Patience));
            Assert.Equal("connection_lost", error.Code);
        }

        // A request made afterwards fails at once instead of waiting for an answer that cannot come.
        var late = await Assert.ThrowsAsync<EdgeRuntimeException>(() => client.StatsAsync().WaitAsync(ScriptedServer.Patience));
        Assert.Equal("connection_lost", late.Code);
    }

    [Fact]
    public async Task A_connection_closed_in_the_middle_of_a_frame_fails_the_request_instead_of_waiting_for_the_rest()
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();

        var call = client.UnloadAsync("a");
        var request = await server.ReadAsync();
        byte[] answer = ScriptedServer.Answer(request, """{"name":"a","unloaded":true}""");
        await server.SendAsync(answer[..(answer.Length / 2)]);
        server.CloseConnection();

        var error = await Assert.ThrowsAsync<EdgeRuntimeException>(() => call.WaitAsync(ScriptedServer.Patience));
        Assert.Equal("connection_lost", error.Code);
    }

    [Fact]
    public async Task Bytes_that_are_not_a_frame_fail_pending_and_later_requests_with_bad_frame()
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();

        var call = client.UnloadAsync("a");
        await server.ReadAsync();

        // Something other than edged on the socket: the stream cannot be resynchronised, so nothing more can succeed.
        await server.SendAsync(Encoding.ASCII.GetBytes("HTTP/1.1 400 Bad Request\r\n\r\n"));

        var error = await Assert.ThrowsAsync<EdgeRuntimeException>(() => call.WaitAsync(ScriptedServer.Patience));
        Assert.Equal(ErrorCodes.BadFrame, error.Code);
        var late = await Assert.ThrowsAsync<EdgeRuntimeException>(() => client.StatsAsync().WaitAsync(ScriptedServer.Patience));
        Assert.Equal(ErrorCodes.BadFrame, late.Code);
    }

    [Fact]
    public async Task Disposing_the_client_fails_its_pending_requests_with_connection_closed()
    {
        await using var server = new ScriptedServer();
        var client = await server.ConnectClientAsync();

        var call = client.UnloadAsync("a");
        await server.ReadAsync();

        // The daemon never answers and never closes: only the client's own dispose can end the wait.
        await client.DisposeAsync().AsTask().WaitAsync(ScriptedServer.Patience);

        var error = await Assert.ThrowsAsync<EdgeRuntimeException>(() => call.WaitAsync(ScriptedServer.Patience));
        Assert.Equal("connection_closed", error.Code);
        var late = await Assert.ThrowsAsync<EdgeRuntimeException>(() => client.StatsAsync().WaitAsync(ScriptedServer.Patience));
        Assert.Equal("connection_closed", late.Code);
    }

    [Fact]
    public async Task Connecting_where_no_daemon_listens_fails_with_connect_failed_naming_the_path_and_a_hint()
    {
        using var folder = new TempFolder("edgeclient-test-");
        string path = folder.File("absent.sock");

        var error = await Assert.ThrowsAsync<EdgeRuntimeException>(() => EdgeClient.ConnectAsync(path).WaitAsync(ScriptedServer.Patience));
        Assert.Equal("connect_failed", error.Code);
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.Contains("is edged running?", error.Message, StringComparison.Ordinal);
    }
}
