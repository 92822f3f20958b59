using System.Threading.Channels;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Client.Tests;

/// <summary>A subscription's acknowledgement, its stream of events, and how the stream ends.</summary>
public sealed class SubscriptionTests
{
    private static byte[] Event(ScriptedServer.Request subscribe, long id, string outputs = "[]", byte[]? payload = null) =>
        ScriptedServer.Frame(MessageType.Event, FrameFlags.Response, subscribe.Id, Wire.EventJson(id, outputs), payload);

    private static async Task<StoredResult> NextAsync(ResultSubscription subscription) =>
        await subscription.ReadAsync().AsTask().WaitAsync(ScriptedServer.Patience);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Events_sent_right_behind_the_acknowledgement_all_arrive_in_id_order(bool inlineContinuations)
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync(new EdgeClientOptions { InlineContinuations = inlineContinuations });

        var subscribing = client.SubscribeAsync(new SubscribeRequest(Since: 40, Triggers: ["press"]));
        var subscribe = await server.ReadAsync();
        var asked = ProtocolJson.Deserialize(subscribe.Json, ProtocolJsonContext.Default.SubscribeRequest);
        Assert.Equal(MessageType.Subscribe, subscribe.Header.Type);
        Assert.Equal(40, asked.Since);
        Assert.Equal(["press"], asked.Triggers!);

        // One write: the acknowledgement and the backlog land in the client's buffer together, before the caller
        // has even seen the subscription. None may be dropped.
        await server.SendAsync([
            ScriptedServer.Answer(subscribe, """{"firstId":12,"lastId":45}"""),
            .. Enumerable.Range(41, 5).Select(id => Event(subscribe, id)),
        ]);

        // Not disposed here: disposing the client ends it without an unsubscribe round trip this script lacks.
        var subscription = await subscribing.WaitAsync(ScriptedServer.Patience);
        Assert.Equal(new SubscribeResponse(12, 45), subscription.Acknowledgement);
        var ids = new List<long>();
        for (int i = 0; i < 5; i++)
        {
            ids.Add((await NextAsync(subscription)).Event.Id);
        }

        Assert.Equal([41L, 42L, 43L, 44L, 45L], ids);
    }

    [Fact]
    public async Task Events_nobody_has_read_yet_do_not_hold_up_other_requests()
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();

        var subscribing = client.SubscribeAsync(new SubscribeRequest());
        var subscribe = await server.ReadAsync();
        await server.ReplyAsync(subscribe, """{"firstId":1,"lastId":0}""");
        var subscription = await subscribing.WaitAsync(ScriptedServer.Patience);

        var unload = client.UnloadAsync("m");
        var unloadRequest = await server.ReadAsync();
        await server.SendAsync([.. Enumerable.Range(1, 200).Select(id => Event(subscribe, id)), ScriptedServer.Answer(unloadRequest, """{"name":"m","unloaded":true}""")]);

        // The answer sits behind 200 unread events on the socket, yet arrives.
        Assert.Equal("m", (await unload.WaitAsync(ScriptedServer.Patience)).Name);
        for (long id = 1; id <= 200; id++)
        {
            Assert.Equal(id, (await NextAsync(subscription)).Event.Id);
        }
    }

    [Fact]
    public async Task An_events_output_tensors_and_fields_are_decoded_from_its_frame()
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();

        var subscribing = client.SubscribeAsync(new SubscribeRequest());
        var subscribe = await server.ReadAsync();
        await server.SendAsync(
            ScriptedServer.Answer(subscribe, """{"firstId":1,"lastId":41}"""),
            Event(subscribe, 42, """[{"name":"y","dtype":"float32","shape":[1,4],"offset":8,"length":16}]""", [.. new byte[8], .. Wire.Bytes(0.1f, 0.93f, -2f, 0f)]));

        var subscription = await subscribing.WaitAsync(ScriptedServer.Patience);
        var result = await NextAsync(subscription);
        Assert.Equal(42, result.Event.Id);
        Assert.Equal("press", result.Event.Trigger);
        Assert.Equal(3215.3, result.Event.Timing.TotalUs);
        Assert.Equal([1L, 4L], result["y"].Shape);
        Assert.Equal([0.1f, 0.93f, -2f, 0f], result["y"].ToArray<float>());
    }

    [Fact]
    public async Task An_error_under_the_subscription_ends_it_with_the_daemons_code()
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();

        var subscribing = client.SubscribeAsync(new SubscribeRequest());
        var subscribe = await server.ReadAsync();
        await server.SendAsync(
            ScriptedServer.Answer(subscribe, """{"firstId":1,"lastId":0}"""),
            Event(subscribe, 1),
            ScriptedServer.Error(MessageType.Subscribe, subscribe.Id, ErrorCodes.ShuttingDown, "edged is stopping."));

        var subscription = await subscribing.WaitAsync(ScriptedServer.Patience);
        Assert.Equal(1, (await NextAsync(subscription)).Event.Id);
        var error = await Assert.ThrowsAsync<EdgeRuntimeException>(() => NextAsync(subscription));
        Assert.Equal(ErrorCodes.ShuttingDown, error.Code);
        Assert.Equal("edged is stopping.", error.Message);
    }

    [Fact]
    public async Task Losing_the_connection_ends_the_subscription_with_connection_lost_and_disposing_it_then_returns()
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();

        var subscribing = client.SubscribeAsync(new SubscribeRequest());
        var subscribe = await server.ReadAsync();
        await server.ReplyAsync(subscribe, """{"firstId":1,"lastId":0}""");
        var subscription = await subscribing.WaitAsync(ScriptedServer.Patience);
        server.CloseConnection();

        var error = await Assert.ThrowsAsync<EdgeRuntimeException>(() => NextAsync(subscription));
        Assert.Equal("connection_lost", error.Code);

        // There is no daemon left to answer an unsubscribe: disposing must not wait for one.
        await subscription.DisposeAsync().AsTask().WaitAsync(ScriptedServer.Patience);
    }

    [Fact]
    public async Task Disposing_the_subscription_unsubscribes_its_request_id_and_ends_reading_after_what_arrived()
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();

        var subscribing = client.SubscribeAsync(new SubscribeRequest());
        var subscribe = await server.ReadAsync();
        await server.SendAsync(ScriptedServer.Answer(subscribe, """{"firstId":1,"lastId":0}"""), Event(subscribe, 1));
        var subscription = await subscribing.WaitAsync(ScriptedServer.Patience);

        var disposing = subscription.DisposeAsync().AsTask();
        var unsubscribe = await server.ReadAsync();
        Assert.Equal(MessageType.Unsubscribe, unsubscribe.Header.Type);
        Assert.Equal(subscribe.Id, ProtocolJson.Deserialize(unsubscribe.Json, ProtocolJsonContext.Default.UnsubscribeRequest).RequestId);
        Assert.False(disposing.IsCompleted, "dispose returns once the daemon has confirmed that nothing more follows");
        await server.ReplyAsync(unsubscribe, $$"""{"requestId":{{subscribe.Id}},"unsubscribed":true}""");
        await disposing.WaitAsync(ScriptedServer.Patience);

        // The event that arrived before the unsubscribe is still there to read; after it the stream ends: ReadAllAsync
        // finishes (bounded by the token, so a stream left open fails the test) and ReadAsync says it is closed.
        using var patience = new CancellationTokenSource(ScriptedServer.Patience);
        var remaining = new List<long>();
        await foreach (var result in subscription.ReadAllAsync(patience.Token))
        {
            remaining.Add(result.Event.Id);
        }

        Assert.Equal([1L], remaining);
        await Assert.ThrowsAsync<ChannelClosedException>(() => NextAsync(subscription));
    }
}
