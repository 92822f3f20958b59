using EdgeRuntime.Protocol;

namespace EdgeRuntime.Client.Tests;

/// <summary>What the client puts on the wire for a request: its type, its own request id, and its JSON header.</summary>
public sealed class RequestEncodingTests
{
    [Fact]
    public async Task Every_request_gets_its_own_nonzero_id_because_id_0_is_the_daemons_refusal()
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();

        _ = Enumerable.Range(0, 5).Select(i => client.UnloadAsync($"m{i}")).ToArray();
        var requests = await server.ReadAsync(5);

        Assert.All(requests, r => Assert.NotEqual(0UL, r.Id));
        Assert.Equal(5, requests.Select(r => r.Id).Distinct().Count());
        Assert.All(requests, r => Assert.Equal(MessageType.Unload, r.Header.Type));
        Assert.All(requests, r => Assert.Equal(FrameFlags.None, r.Header.Flags));
    }

    [Fact]
    public async Task Hello_offers_protocol_version_1_and_the_client_name_and_decodes_the_daemons_answer()
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();

        var call = client.HelloAsync("camera-app");
        var request = await server.ReadAsync();
        var hello = ProtocolJson.Deserialize(request.Json, ProtocolJsonContext.Default.HelloRequest);
        Assert.Equal(MessageType.Hello, request.Header.Type);
        Assert.Equal([1], hello.ProtocolVersions);
        Assert.Equal("camera-app", hello.Client);

        await server.ReplyAsync(request, """
            {"protocolVersion":1,"protocolVersions":[1],"daemonVersion":"0.1.0","board":"rpi5",
             "providers":["CPUExecutionProvider"],"peer":{"pid":4242,"uid":1000,"gid":1000},"platform":"linux-arm64 (AdvSimd)"}
            """);
        var answer = await call.WaitAsync(ScriptedServer.Patience);
        Assert.Equal("rpi5", answer.Board);
        Assert.Equal(4242, answer.Peer.Pid);
        Assert.Equal("linux-arm64 (AdvSimd)", answer.Platform);
    }
}
