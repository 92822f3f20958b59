using EdgeRuntime.Protocol;

namespace EdgeRuntime.Client.Tests;

/// <summary>Error frames become <see cref="EdgeRuntimeException"/>s that programs can switch on.</summary>
public sealed class ErrorFrameTests
{
    [Theory]
    [InlineData(ErrorCodes.UnknownModel, "No model named 'vad' is loaded; loaded: mlp.")]
    [InlineData(ErrorCodes.InvalidInput, "Input 'x' must be float32 [1,3], got int64 [1,3].")]
    [InlineData("code_from_a_newer_daemon", "A code this client has never heard of still reaches the caller.")]
    public async Task An_error_frame_becomes_an_exception_carrying_the_daemons_code_and_message(string code, string message)
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();

        var call = client.InfoAsync("vad");
        var request = await server.ReadAsync();
        await server.SendAsync(ScriptedServer.Error(request.Header.Type, request.Id, code, message));

        var error = await Assert.ThrowsAsync<EdgeRuntimeException>(() => call.WaitAsync(ScriptedServer.Patience));
        Assert.Equal(code, error.Code);
        Assert.Equal(message, error.Message);
    }

    [Fact]
    public async Task An_error_fails_only_its_own_request_and_the_connection_stays_usable()
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();

        var failing = client.UnloadAsync("a");
        var succeeding = client.UnloadAsync("b");
        var requests = await server.ReadAsync(2);
        await server.SendAsync(
            ScriptedServer.Error(MessageType.Unload, requests[0].Id, ErrorCodes.UnknownModel, "No model named 'a'."),
            ScriptedServer.Answer(requests[1], """{"name":"b","unloaded":true}"""));

        var error = await Assert.ThrowsAsync<EdgeRuntimeException>(() => failing.WaitAsync(ScriptedServer.Patience));
        Assert.Equal(ErrorCodes.UnknownModel, error.Code);
        Assert.Equal("b", (await succeeding.WaitAsync(ScriptedServer.Patience)).Name);

        var later = client.UnloadAsync("c");
        await server.ReplyAsync(await server.ReadAsync(), """{"name":"c","unloaded":true}""");
        Assert.True((await later.WaitAsync(ScriptedServer.Patience)).Unloaded);
    }

    [Fact]
    public async Task A_refusal_under_request_id_0_fails_every_pending_and_later_request_with_its_code()
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();

        var first = client.UnloadAsync("a");
        var second = client.InfoAsync("b");
        await server.ReadAsync(2);

        // As edged refuses a peer: an error under id 0, then the connection closes. The explained refusal must win
        // over the bare "connection lost" that follows it.
        await server.SendAsync(ScriptedServer.Error(MessageType.Hello, 0, ErrorCodes.Busy, "edged has 64 connections, its limit."));
        server.CloseConnection();

        foreach (var call in new Task[] { first, second })
        {
            var error = await Assert.ThrowsAsync<EdgeRuntimeException>(() => call.WaitAsync(ScriptedServer.Patience));
            Assert.Equal(ErrorCodes.Busy, error.Code);
            Assert.Equal("edged has 64 connections, its limit.", error.Message);
        }

        var late = await Assert.ThrowsAsync<EdgeRuntimeException>(() => client.StatsAsync().WaitAsync(ScriptedServer.Patience));
        Assert.Equal(ErrorCodes.Busy, late.Code);
    }
}
