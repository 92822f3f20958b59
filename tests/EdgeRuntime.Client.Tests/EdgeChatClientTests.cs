using System.Text.Json;
using EdgeRuntime.Protocol;
using Microsoft.Extensions.AI;
using AiMessage = Microsoft.Extensions.AI.ChatMessage;

namespace EdgeRuntime.Client.Tests;

/// <summary>EdgeChatClient: what a Microsoft.Extensions.AI call sends to edged, and what edged's answer becomes.</summary>
public sealed class EdgeChatClientTests
{
    [Fact]
    public async Task Roles_text_and_every_mapped_option_reach_the_request_and_a_new_conversation_is_kept()
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();
        using var chat = new EdgeChatClient(client, "bitnet");

        var options = new ChatOptions
        {
            Instructions = "Answer in one word.",
            Temperature = 0.6f,
            TopP = 0.9f,
            TopK = 40,
            Seed = -1,
            MaxOutputTokens = 16,
            StopSequences = ["\n\n"],
            FrequencyPenalty = 0.5f,
            AdditionalProperties = new() { [EdgeChatClient.RepetitionPenaltyKey] = 1.1, [EdgeChatClient.MinPKey] = JsonDocument.Parse("0.05").RootElement },
        };
        var answering = chat.GetResponseAsync(
            [new AiMessage(ChatRole.System, "You are terse."), new AiMessage(ChatRole.User, "Capital of France?"), new AiMessage(ChatRole.Assistant, "Paris."), new AiMessage(ChatRole.User, "Of Italy?")],
            options);

        var generate = await server.ReadAsync();
        var request = Generation.Parse(generate);
        Assert.Equal("bitnet", request.Model);
        Assert.Equal(
            [("system", "Answer in one word."), ("system", "You are terse."), ("user", "Capital of France?"), ("assistant", "Paris."), ("user", "Of Italy?")],
            request.Messages!.Select(m => (m.Role, m.Content)));
        Assert.Null(request.Prompt);
        Assert.True(request.Keep);
        Assert.Null(request.Session);
        Assert.Equal(16, request.MaxTokens);
        Assert.Equal(["\n\n"], request.Stop!);
        Assert.Equal(
            new SamplingSpec { Temperature = 0.6f, TopP = 0.9f, TopK = 40, Seed = ulong.MaxValue, RepetitionPenalty = 1.1f, MinP = 0.05f },
            request.Sampling);

        // Frequency penalty has no equivalent in edged and is not smuggled in as one.
        Assert.DoesNotContain("frequency", generate.JsonText, StringComparison.OrdinalIgnoreCase);

        await server.SendAsync(Generation.Token(generate, 0, "Rome"), Generation.Token(generate, 1, "."), Generation.Final(generate, StopReasons.StopString, generated: 2, session: "s-7"));
        var response = await answering.WaitAsync(ScriptedServer.Patience);
        Assert.Equal("Rome.", response.Text);
        Assert.Equal(ChatRole.Assistant, Assert.Single(response.Messages).Role);
        Assert.Equal("s-7", response.ConversationId);
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
        Assert.Equal("bitnet", response.ModelId);

        // 7 prefilled now + 3 from the session's cache went in; 2 came out.
        var usage = response.Usage!;
        Assert.Equal((10L, 3L, 2L, 12L), (usage.InputTokenCount!.Value, usage.CachedInputTokenCount!.Value, usage.OutputTokenCount!.Value, usage.TotalTokenCount!.Value));
        Assert.Equal(85.5, response.AdditionalProperties!["timeToFirstTokenMs"]);
        Assert.IsType<GenerateResponse>(response.RawRepresentation);
    }

    [Fact]
    public async Task A_conversation_id_continues_the_session_with_only_the_new_messages()
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();
        using var chat = new EdgeChatClient(client, "bitnet");

        var answering = chat.GetResponseAsync([new AiMessage(ChatRole.User, "And Spain?")], new ChatOptions { ConversationId = "s-7", Instructions = "Answer in one word." });
        var generate = await server.ReadAsync();
        var request = Generation.Parse(generate);
        Assert.Equal("s-7", request.Session);
        Assert.False(request.Keep);
        Assert.Equal([("user", "And Spain?")], request.Messages!.Select(m => (m.Role, m.Content)));
        Assert.Null(request.Sampling);

        await server.SendAsync(Generation.Token(generate, 0, "Madrid"), Generation.Final(generate, StopReasons.MaxTokens, generated: 1, session: "s-7"));
        var response = await answering.WaitAsync(ScriptedServer.Patience);
        Assert.Equal("s-7", response.ConversationId);
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
    }

    [Fact]
    public async Task Without_kept_sessions_a_call_is_one_shot_and_model_id_picks_another_model()
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();
        using var chat = new EdgeChatClient(client, "bitnet") { KeepSessions = false };

        var answering = chat.GetResponseAsync("Hi", new ChatOptions { ModelId = "bitnet-large" });
        var generate = await server.ReadAsync();
        var request = Generation.Parse(generate);
        Assert.Equal("bitnet-large", request.Model);
        Assert.False(request.Keep);
        await server.SendAsync(Generation.Final(generate, generated: 0));

        var response = await answering.WaitAsync(ScriptedServer.Patience);
        Assert.Null(response.ConversationId);
        Assert.Equal(string.Empty, response.Text);
    }

    [Fact]
    public async Task Streaming_yields_each_text_piece_then_a_last_update_with_usage_finish_reason_and_conversation()
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();
        using var chat = new EdgeChatClient(client, "bitnet");

        var updates = new List<ChatResponseUpdate>();
        var reading = Task.Run(async () =>
        {
            await foreach (var update in chat.GetStreamingResponseAsync([new AiMessage(ChatRole.User, "Say hi")]))
            {
                updates.Add(update);
            }
        });
        var generate = await server.ReadAsync();
        await server.SendAsync(
            Generation.Token(generate, 0, "H"), Generation.Token(generate, 1, ""), Generation.Token(generate, 2, "i!"),
            Generation.Final(generate, StopReasons.EndOfSequence, generated: 3, session: "s-9"));
        await reading.WaitAsync(ScriptedServer.Patience);

        // The empty piece (half a character) is not an update of its own.
        Assert.Equal(["H", "i!", ""], updates.Select(u => u.Text));
        Assert.All(updates, u => Assert.Equal(ChatRole.Assistant, u.Role));
        var last = updates[^1];
        Assert.Equal(ChatFinishReason.Stop, last.FinishReason);
        Assert.Equal("s-9", last.ConversationId);
        Assert.Equal(3L, Assert.IsType<UsageContent>(Assert.Single(last.Contents)).Details.OutputTokenCount);

        var response = updates.ToChatResponse();
        Assert.Equal("Hi!", response.Text);
        Assert.Equal("s-9", response.ConversationId);
        Assert.Equal(10L, response.Usage!.InputTokenCount);
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
    }

    [Fact]
    public async Task Leaving_a_streaming_response_early_cancels_the_generation_at_the_daemon()
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();
        using var chat = new EdgeChatClient(client, "bitnet");

        var reading = Task.Run(async () =>
        {
            await foreach (var update in chat.GetStreamingResponseAsync("Recite a poem"))
            {
                break;
            }
        });
        var generate = await server.ReadAsync();
        await server.SendAsync(Generation.Token(generate, 0, "Roses"));
        var cancel = await Generation.ExpectCancelAsync(server, generate);
        await server.SendAsync(Generation.CancelAnswer(cancel, generate), Generation.Final(generate, StopReasons.Cancelled, generated: 1));
        await reading.WaitAsync(ScriptedServer.Patience);
    }

    [Fact]
    public async Task A_daemon_error_reaches_the_caller_with_its_code()
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();
        using var chat = new EdgeChatClient(client, "bitnet");

        var answering = chat.GetResponseAsync("Hi", new ChatOptions { ConversationId = "gone" });
        var generate = await server.ReadAsync();
        await server.SendAsync(ScriptedServer.Error(MessageType.Generate, generate.Id, ErrorCodes.UnknownSession, "No session 'gone'."));

        var error = await Assert.ThrowsAsync<EdgeRuntimeException>(() => answering.WaitAsync(ScriptedServer.Patience));
        Assert.Equal(ErrorCodes.UnknownSession, error.Code);
    }

    [Theory]
    [InlineData(StopReasons.EndOfSequence, "stop")]
    [InlineData(StopReasons.StopToken, "stop")]
    [InlineData(StopReasons.StopString, "stop")]
    [InlineData(StopReasons.MaxTokens, "length")]
    [InlineData(StopReasons.ContextFull, "length")]
    [InlineData(StopReasons.Cancelled, "cancelled")]
    public async Task Stop_reasons_become_finish_reasons(string stopReason, string finishReason)
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();
        using var chat = new EdgeChatClient(client, "bitnet");

        var answering = chat.GetResponseAsync("Hi");
        var generate = await server.ReadAsync();
        await server.SendAsync(Generation.Final(generate, stopReason, generated: 0));

        var response = await answering.WaitAsync(ScriptedServer.Patience);
        Assert.Equal(finishReason, response.FinishReason!.Value.Value);
        Assert.Equal(stopReason, response.AdditionalProperties!["stopReason"]);
    }

    [Fact]
    public async Task Content_that_is_not_text_is_refused_before_anything_is_sent()
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();
        using var chat = new EdgeChatClient(client, "bitnet");

        var image = new AiMessage(ChatRole.User, [new TextContent("What is this?"), new DataContent(new byte[] { 1, 2, 3 }, "image/png")]);
        var error = await Assert.ThrowsAsync<NotSupportedException>(() => chat.GetResponseAsync([image]));
        Assert.Contains("DataContent", error.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ArgumentException>(() => chat.GetResponseAsync("Hi", new ChatOptions { AdditionalProperties = new() { [EdgeChatClient.MinPKey] = "a lot" } }));

        _ = client.UnloadAsync("next");
        Assert.Equal(MessageType.Unload, (await server.ReadAsync()).Header.Type);
    }

    [Fact]
    public async Task The_chat_client_describes_itself_and_hands_out_its_connection()
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();
        var chat = new EdgeChatClient(client, "bitnet");

        var metadata = chat.GetService<ChatClientMetadata>()!;
        Assert.Equal(("edged", "bitnet"), (metadata.ProviderName, metadata.DefaultModelId));
        Assert.Same(client, chat.GetService<EdgeClient>());
        Assert.Same(chat, chat.GetService<IChatClient>());
        Assert.Null(chat.GetService<ChatClientMetadata>("some key"));

        // Not owned: disposing the chat client leaves the connection usable.
        chat.Dispose();
        _ = client.UnloadAsync("still-open");
        Assert.Equal(MessageType.Unload, (await server.ReadAsync()).Header.Type);
    }
}
