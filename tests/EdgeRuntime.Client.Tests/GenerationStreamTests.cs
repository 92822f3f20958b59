using System.Text;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Client.Tests;

/// <summary>A generate's stream of token frames, its final answer, its errors, and how stopping early reaches the daemon.</summary>
public sealed class GenerationStreamTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Tokens_then_the_summary_arrive_in_order_even_when_sent_with_the_request_still_in_flight(bool inlineContinuations)
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync(new EdgeClientOptions { InlineContinuations = inlineContinuations });

        var starting = client.GenerateAsync(new GenerateRequest("bitnet")
        {
            Prompt = "The capital of France is",
            MaxTokens = 8,
            Sampling = new SamplingSpec { Temperature = 0.7f, Seed = ulong.MaxValue },
            Stop = ["\n"],
        });
        var generate = await server.ReadAsync();
        Assert.Equal(FrameFlags.None, generate.Header.Flags);
        var asked = Generation.Parse(generate);
        Assert.Equal("The capital of France is", asked.Prompt);
        Assert.Equal(8, asked.MaxTokens);
        Assert.Equal(ulong.MaxValue, asked.Sampling!.Seed);
        Assert.Equal(["\n"], asked.Stop!);

        // One write: every token and the final frame land together, possibly before the caller has the stream.
        await server.SendAsync(Generation.Token(generate, 0, " Paris"), Generation.Token(generate, 1, ""), Generation.Token(generate, 2, "."), Generation.Final(generate, generated: 3));
        await using var stream = await starting.WaitAsync(ScriptedServer.Patience);
        Assert.Equal(generate.Id, stream.RequestId);

        var tokens = await Generation.ReadAllAsync(stream);
        Assert.Equal([0, 1, 2], tokens.Select(t => t.Index));
        Assert.Equal([" Paris", "", "."], tokens.Select(t => t.Text));
        Assert.Equal([100, 101, 102], tokens.Select(t => t.Id));
        Assert.Equal(1000.5, tokens[0].AtUs);

        var summary = await stream.Summary.WaitAsync(ScriptedServer.Patience);
        Assert.Equal(StopReasons.EndOfSequence, summary.StopReason);
        Assert.Equal(7, summary.PromptTokens);
        Assert.Equal(3, summary.GeneratedTokens);
        Assert.Equal(85.5, summary.TimeToFirstTokenMs);
        Assert.Equal(14.25, summary.DecodeTokensPerSecond);
        Assert.Equal(4096, summary.ContextLength);
        Assert.Null(summary.Session);
    }

    [Fact]
    public async Task An_error_after_some_tokens_ends_the_stream_with_the_daemons_code()
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();

        var starting = client.GenerateAsync(new GenerateRequest("bitnet") { Prompt = "Tell me everything" });
        var generate = await server.ReadAsync();
        await server.SendAsync(
            Generation.Token(generate, 0, "Once"),
            Generation.Token(generate, 1, " upon"),
            ScriptedServer.Error(MessageType.Generate, generate.Id, ErrorCodes.ContextOverflow, "The session's cache is full."));
        await using var stream = await starting.WaitAsync(ScriptedServer.Patience);

        var read = new List<string>();
        var error = await Assert.ThrowsAsync<EdgeRuntimeException>(async () =>
        {
            await foreach (var token in stream)
            {
                read.Add(token.Text);
            }
        });
        Assert.Equal(["Once", " upon"], read);
        Assert.Equal(ErrorCodes.ContextOverflow, error.Code);
        Assert.Equal("The session's cache is full.", error.Message);

        var summaryError = await Assert.ThrowsAsync<EdgeRuntimeException>(() => stream.Summary.WaitAsync(ScriptedServer.Patience));
        Assert.Equal(ErrorCodes.ContextOverflow, summaryError.Code);
    }

    [Fact]
    public async Task An_error_instead_of_any_token_is_raised_by_the_first_read()
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();

        var starting = client.GenerateAsync(new GenerateRequest("vad") { Prompt = "hello" });
        var generate = await server.ReadAsync();
        await server.SendAsync(ScriptedServer.Error(MessageType.Generate, generate.Id, ErrorCodes.WrongModelKind, "vad is a tensor model: use infer."));
        await using var stream = await starting.WaitAsync(ScriptedServer.Patience);

        var error = await Assert.ThrowsAsync<EdgeRuntimeException>(() => Generation.ReadAllAsync(stream));
        Assert.Equal(ErrorCodes.WrongModelKind, error.Code);
    }

    [Fact]
    public async Task Breaking_out_early_sends_cancel_for_the_request_id_and_returns_once_the_daemon_has_ended_the_stream()
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();

        // Another request first, so the generate's id is not the first one by luck.
        var unload = client.UnloadAsync("old");
        var unloadRequest = await server.ReadAsync();

        var starting = client.GenerateAsync(new GenerateRequest("bitnet") { Prompt = "Count to a thousand", Keep = true });
        var generate = await server.ReadAsync();
        Assert.NotEqual(unloadRequest.Id, generate.Id);
        await server.SendAsync(Generation.Token(generate, 0, "1"), Generation.Token(generate, 1, " 2"));
        await using var stream = await starting.WaitAsync(ScriptedServer.Patience);

        var reading = Task.Run(async () =>
        {
            await foreach (var token in stream)
            {
                if (token.Index == 1)
                {
                    break;
                }
            }
        });

        var cancel = await Generation.ExpectCancelAsync(server, generate);
        Assert.False(reading.IsCompleted, "leaving the loop waits until the daemon has ended the generation, so its session is free");

        // The daemon was already sending more: those tokens go nowhere, the final frame ends the wait.
        await server.SendAsync(
            Generation.Token(generate, 2, " 3"),
            Generation.CancelAnswer(cancel, generate),
            Generation.Final(generate, StopReasons.Cancelled, generated: 3, session: "s-1"),
            ScriptedServer.Answer(unloadRequest, """{"name":"old","unloaded":true}"""));
        await reading.WaitAsync(ScriptedServer.Patience);

        var summary = await stream.Summary.WaitAsync(ScriptedServer.Patience);
        Assert.Equal(StopReasons.Cancelled, summary.StopReason);
        Assert.Equal("s-1", summary.Session);
        Assert.Equal("old", (await unload.WaitAsync(ScriptedServer.Patience)).Name);
    }

    [Fact]
    public async Task Cancelling_the_token_cancels_at_the_daemon_and_the_enumeration_throws_once_the_stream_has_ended()
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();

        using var cancellation = new CancellationTokenSource();
        var starting = client.GenerateAsync(new GenerateRequest("bitnet") { Prompt = "Write a novel" }, cancellation.Token);
        var generate = await server.ReadAsync();
        await server.SendAsync(Generation.Token(generate, 0, "It"));
        await using var stream = await starting.WaitAsync(ScriptedServer.Patience);

        var texts = new List<string>();
        var reading = Task.Run(async () =>
        {
            await foreach (var token in stream)
            {
                texts.Add(token.Text);
                await cancellation.CancelAsync();
            }
        });

        var cancel = await Generation.ExpectCancelAsync(server, generate);
        await server.SendAsync(Generation.CancelAnswer(cancel, generate), Generation.Final(generate, StopReasons.Cancelled, generated: 1));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => reading.WaitAsync(ScriptedServer.Patience));
        Assert.Equal(["It"], texts);
        Assert.Equal(StopReasons.Cancelled, (await stream.Summary.WaitAsync(ScriptedServer.Patience)).StopReason);
    }

    [Fact]
    public async Task CancelAsync_stops_the_daemon_while_the_reader_still_gets_every_token_sent_and_the_cancelled_summary()
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();

        var starting = client.GenerateAsync(new GenerateRequest("bitnet") { Prompt = "Go on" });
        var generate = await server.ReadAsync();
        await using var stream = await starting.WaitAsync(ScriptedServer.Patience);

        var cancelling = stream.CancelAsync();
        Assert.Same(cancelling, stream.CancelAsync());
        var cancel = await Generation.ExpectCancelAsync(server, generate);
        await server.SendAsync(Generation.Token(generate, 0, "a"), Generation.CancelAnswer(cancel, generate), Generation.Token(generate, 1, "b"), Generation.Final(generate, StopReasons.Cancelled));
        await cancelling.WaitAsync(ScriptedServer.Patience);

        Assert.Equal(["a", "b"], (await Generation.ReadAllAsync(stream)).Select(t => t.Text));
        Assert.Equal(StopReasons.Cancelled, (await stream.Summary.WaitAsync(ScriptedServer.Patience)).StopReason);
    }

    [Fact]
    public async Task EdgeClient_CancelAsync_names_the_request_and_returns_the_daemons_answer()
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();

        var cancelling = client.CancelAsync(41);
        var cancel = await server.ReadAsync();
        Assert.Equal(MessageType.Cancel, cancel.Header.Type);
        Assert.Equal("""{"requestId":41}""", cancel.JsonText);
        await server.ReplyAsync(cancel, """{"requestId":41,"cancelled":false}""");

        Assert.Equal(new CancelResponse(41, false), await cancelling.WaitAsync(ScriptedServer.Patience));
    }

    [Fact]
    public async Task A_generate_shares_the_connection_with_other_requests_answered_between_its_tokens()
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();

        var starting = client.GenerateAsync(new GenerateRequest("bitnet") { Prompt = "Hi" });
        var generate = await server.ReadAsync();
        await using var stream = await starting.WaitAsync(ScriptedServer.Patience);
        var reading = Generation.ReadAllAsync(stream);

        var info = client.InfoAsync("bitnet");
        var unload = client.UnloadAsync("vad");
        var requests = await server.ReadAsync(2);
        await server.SendAsync(
            Generation.Token(generate, 0, "Hel"),
            ScriptedServer.Answer(requests[1], """{"name":"vad","unloaded":true}"""),
            Generation.Token(generate, 1, "lo"),
            ScriptedServer.Answer(requests[0], """
                {"name":"bitnet","path":"bitnet-2b","sizeBytes":1,"providers":["cpu"],"inputs":[],"outputs":[],"loadMs":1,
                 "loadedAt":"2026-11-26T10:00:00+00:00","warnings":[],"nodes":[],"placementNote":null,
                 "kind":"language","contextLength":4096,"family":"bitnet"}
                """),
            Generation.Final(generate));

        Assert.Equal("vad", (await unload.WaitAsync(ScriptedServer.Patience)).Name);
        var model = await info.WaitAsync(ScriptedServer.Patience);
        Assert.Equal((ModelKinds.Language, 4096, "bitnet"), (model.Kind, model.ContextLength, model.Family));
        Assert.Equal("Hello", string.Concat((await reading).Select(t => t.Text)));
        Assert.Equal(StopReasons.EndOfSequence, (await stream.Summary).StopReason);
    }

    [Fact]
    public async Task Two_generations_on_one_connection_each_get_only_their_own_tokens()
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();

        var startingA = client.GenerateAsync(new GenerateRequest("bitnet") { Prompt = "A" });
        var startingB = client.GenerateAsync(new GenerateRequest("bitnet") { Prompt = "B" });
        var requests = await server.ReadAsync(2);
        var (a, b) = Generation.Parse(requests[0]).Prompt == "A" ? (requests[0], requests[1]) : (requests[1], requests[0]);
        await server.SendAsync(
            Generation.Token(b, 0, "b0"), Generation.Token(a, 0, "a0"), Generation.Token(b, 1, "b1"),
            Generation.Final(b), Generation.Token(a, 1, "a1"), Generation.Final(a, StopReasons.MaxTokens));
        await using var streamA = await startingA.WaitAsync(ScriptedServer.Patience);
        await using var streamB = await startingB.WaitAsync(ScriptedServer.Patience);

        Assert.Equal(["a0", "a1"], (await Generation.ReadAllAsync(streamA)).Select(t => t.Text));
        Assert.Equal(["b0", "b1"], (await Generation.ReadAllAsync(streamB)).Select(t => t.Text));
        Assert.Equal(StopReasons.MaxTokens, (await streamA.Summary).StopReason);
    }

    [Fact]
    public async Task A_reader_that_falls_too_far_behind_gets_stream_overrun_and_the_daemon_a_cancel_while_other_answers_still_arrive()
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync(new EdgeClientOptions { MaxBufferedTokens = 2 });

        var starting = client.GenerateAsync(new GenerateRequest("bitnet") { Prompt = "Ramble" });
        var generate = await server.ReadAsync();
        await using var stream = await starting.WaitAsync(ScriptedServer.Patience);
        var health = client.HealthAsync();
        var healthRequest = await server.ReadAsync();
        await server.SendAsync(
            Generation.Token(generate, 0, "a"), Generation.Token(generate, 1, "b"), Generation.Token(generate, 2, "c"),
            ScriptedServer.Answer(healthRequest, """{"status":"ok","uptimeSeconds":1,"connections":1,"inFlight":1,"queueDepth":0,"models":1,"problems":[],"warnings":[]}"""));

        // The receive thread did not wait for the reader: the answer behind the unread tokens arrived.
        Assert.Equal("ok", (await health.WaitAsync(ScriptedServer.Patience)).Status);
        var cancel = await Generation.ExpectCancelAsync(server, generate);
        await server.SendAsync(Generation.Token(generate, 3, "d"), Generation.CancelAnswer(cancel, generate), Generation.Final(generate, StopReasons.Cancelled, generated: 4));

        var read = new List<string>();
        var error = await Assert.ThrowsAsync<EdgeRuntimeException>(async () =>
        {
            await foreach (var token in stream)
            {
                read.Add(token.Text);
            }
        });
        Assert.Equal("stream_overrun", error.Code);
        Assert.Equal(["a", "b"], read);
        Assert.Equal(StopReasons.Cancelled, (await stream.Summary.WaitAsync(ScriptedServer.Patience)).StopReason);
    }

    [Fact]
    public async Task Losing_the_connection_fails_the_stream_with_connection_lost_and_disposing_it_then_returns()
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();

        var starting = client.GenerateAsync(new GenerateRequest("bitnet") { Prompt = "Hi" });
        var generate = await server.ReadAsync();
        await server.SendAsync(Generation.Token(generate, 0, "H"));
        var stream = await starting.WaitAsync(ScriptedServer.Patience);
        server.CloseConnection();

        var error = await Assert.ThrowsAsync<EdgeRuntimeException>(() => Generation.ReadAllAsync(stream));
        Assert.Equal("connection_lost", error.Code);
        Assert.Equal("connection_lost", (await Assert.ThrowsAsync<EdgeRuntimeException>(() => stream.Summary)).Code);
        await stream.DisposeAsync().AsTask().WaitAsync(ScriptedServer.Patience);
    }

    [Fact]
    public async Task A_generate_cancelled_before_it_is_sent_never_reaches_the_daemon()
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();

        using var cancellation = new CancellationTokenSource();
        await cancellation.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.GenerateAsync(new GenerateRequest("bitnet") { Prompt = "never" }, cancellation.Token));

        _ = client.UnloadAsync("next");
        Assert.Equal(MessageType.Unload, (await server.ReadAsync()).Header.Type);
    }

    [Fact]
    public async Task Disposing_an_unread_stream_cancels_it_and_a_stream_reads_once()
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();

        var starting = client.GenerateAsync(new GenerateRequest("bitnet") { Messages = [new ChatMessage("user", "Hi")] });
        var generate = await server.ReadAsync();
        Assert.Contains("\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]", Encoding.UTF8.GetString(generate.Json), StringComparison.Ordinal);
        var stream = await starting.WaitAsync(ScriptedServer.Patience);
        _ = stream.GetAsyncEnumerator();
        Assert.Throws<InvalidOperationException>(() => stream.GetAsyncEnumerator());

        var disposing = stream.DisposeAsync().AsTask();
        var cancel = await Generation.ExpectCancelAsync(server, generate);
        await server.SendAsync(Generation.CancelAnswer(cancel, generate), Generation.Final(generate, StopReasons.Cancelled, generated: 0));
        await disposing.WaitAsync(ScriptedServer.Patience);
        Assert.Equal(StopReasons.Cancelled, (await stream.Summary).StopReason);
    }

    [Fact]
    public async Task A_finished_stream_sends_no_cancel_when_disposed()
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();

        var starting = client.GenerateAsync(new GenerateRequest("bitnet") { Prompt = "Hi" });
        var generate = await server.ReadAsync();
        await server.SendAsync(Generation.Token(generate, 0, "Yo"), Generation.Final(generate, generated: 1));
        var stream = await starting.WaitAsync(ScriptedServer.Patience);
        await stream.Summary.WaitAsync(ScriptedServer.Patience);
        await stream.DisposeAsync();
        await stream.CancelAsync();

        // The next frame the daemon sees is the next request, not a cancel.
        _ = client.UnloadAsync("next");
        Assert.Equal(MessageType.Unload, (await server.ReadAsync()).Header.Type);
    }
}
