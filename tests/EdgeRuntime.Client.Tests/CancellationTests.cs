using EdgeRuntime.Protocol;

namespace EdgeRuntime.Client.Tests;

/// <summary>A cancelled request gives up alone: the connection and the other requests on it carry on.</summary>
public sealed class CancellationTests
{
    [Fact]
    public async Task Cancelling_one_request_fails_only_that_one_and_its_late_answer_is_ignored()
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();

        using var cancel = new CancellationTokenSource();
        var cancelled = client.UnloadAsync("a", cancel.Token);
        var other = client.UnloadAsync("b");
        var requests = await server.ReadAsync(2);

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.WaitAsync(ScriptedServer.Patience));
        Assert.False(other.IsCompleted, "the other request has no answer yet, so it must still be waiting");

        // A third request is in flight when the cancelled one's answer finally comes: that answer must go nowhere.
        var third = client.UnloadAsync("c");
        var thirdRequest = await server.ReadAsync();
        await server.SendAsync(
            ScriptedServer.Answer(requests[0], """{"name":"a","unloaded":true}"""),
            ScriptedServer.Answer(requests[1], """{"name":"b","unloaded":true}"""),
            ScriptedServer.Answer(thirdRequest, """{"name":"c","unloaded":true}"""));

        Assert.Equal("b", (await other.WaitAsync(ScriptedServer.Patience)).Name);
        Assert.Equal("c", (await third.WaitAsync(ScriptedServer.Patience)).Name);
    }

    [Fact]
    public async Task A_request_cancelled_before_it_is_sent_never_reaches_the_daemon()
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();

        using var cancel = new CancellationTokenSource();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.UnloadAsync("never", cancel.Token).WaitAsync(ScriptedServer.Patience));

        // The next frame the daemon sees is the next request's, not the cancelled one's.
        _ = client.UnloadAsync("next");
        var request = await server.ReadAsync();
        Assert.Equal("next", ProtocolJson.Deserialize(request.Json, ProtocolJsonContext.Default.NameRequest).Name);
    }

    [Fact]
    public async Task Cancelling_a_subscribe_before_its_acknowledgement_unsubscribes_it_at_the_daemon()
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();

        using var cancel = new CancellationTokenSource();
        var subscribing = client.SubscribeAsync(new SubscribeRequest(Since: 3), cancel.Token);
        var subscribe = await server.ReadAsync();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => subscribing.WaitAsync(ScriptedServer.Patience));

        // The subscribe may already be live at the daemon; left alone it would stream events to nobody.
        var unsubscribe = await server.ReadAsync();
        Assert.Equal(MessageType.Unsubscribe, unsubscribe.Header.Type);
        Assert.Equal(subscribe.Id, ProtocolJson.Deserialize(unsubscribe.Json, ProtocolJsonContext.Default.UnsubscribeRequest).RequestId);
        await server.ReplyAsync(unsubscribe, $$"""{"requestId":{{subscribe.Id}},"unsubscribed":true}""");

        // Whatever the daemon sent under the dead subscription before it stopped does not disturb later requests.
        var next = client.UnloadAsync("m");
        var nextRequest = await server.ReadAsync();
        await server.SendAsync(
            ScriptedServer.Answer(subscribe, """{"firstId":1,"lastId":9}"""),
            ScriptedServer.Frame(MessageType.Event, FrameFlags.Response, subscribe.Id, Wire.EventJson(4)),
            ScriptedServer.Answer(nextRequest, """{"name":"m","unloaded":true}"""));
        Assert.Equal("m", (await next.WaitAsync(ScriptedServer.Patience)).Name);
    }
}
