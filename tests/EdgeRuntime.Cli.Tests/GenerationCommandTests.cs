using System.Text.Json;
using EdgeRuntime.Cli;
using EdgeRuntime.Client.Tests;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Cli.Tests;

/// <summary>generate and chat against a scripted edged: what they send, what they print, and what Ctrl+C does.</summary>
public sealed class GenerationCommandTests
{
    [Fact]
    public async Task Generate_prints_each_piece_as_it_arrives_then_the_summary_on_stderr()
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();
        var console = new FakeTerminal(string.Empty);

        var running = GenerateCommand.RunAsync(client, new GenerateRequest("bitnet") { Prompt = "The capital of France is", MaxTokens = 4 }, console.Terminal, json: false);
        var generate = await server.ReadAsync();
        Assert.Equal("The capital of France is", Generation.Parse(generate).Prompt);
        await server.SendAsync(Generation.Token(generate, 0, " Par"));

        // The first piece shows before the rest of the answer exists.
        await Eventually.TrueAsync(() => console.Output == " Par", "the first piece on stdout");
        await server.SendAsync(Generation.Token(generate, 1, "is"), Generation.Token(generate, 2, "."), Generation.Final(generate, StopReasons.EndOfSequence, generated: 3));

        Assert.Equal(0, await running.WaitAsync(ScriptedServer.Patience));
        Assert.Equal(" Paris.\n", console.Output);
        Assert.Equal("[7 prompt tokens (+3 cached), 3 generated; first token 85.5 ms, 14.3 tok/s; stop: eos; context 12/4096]\n", console.Errors);
    }

    [Fact]
    public async Task Generate_json_prints_every_token_event_then_the_summary_as_json_lines()
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();
        var console = new FakeTerminal(string.Empty);

        var running = GenerateCommand.RunAsync(client, new GenerateRequest("bitnet") { Prompt = "Hi" }, console.Terminal, json: true);
        var generate = await server.ReadAsync();
        await server.SendAsync(Generation.Token(generate, 0, "Hel"), Generation.Token(generate, 1, "lo"), Generation.Final(generate, StopReasons.MaxTokens));
        Assert.Equal(0, await running.WaitAsync(ScriptedServer.Patience));

        string[] lines = console.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        var first = JsonSerializer.Deserialize(lines[0], ProtocolJsonContext.Default.TokenEvent)!;
        Assert.Equal((0, 100, "Hel", 1000.5), (first.Index, first.Id, first.Text, first.AtUs));
        Assert.Equal("lo", JsonSerializer.Deserialize(lines[1], ProtocolJsonContext.Default.TokenEvent)!.Text);
        var summary = JsonSerializer.Deserialize(lines[2], ProtocolJsonContext.Default.GenerateResponse)!;
        Assert.Equal((StopReasons.MaxTokens, 7, 2), (summary.StopReason, summary.PromptTokens, summary.GeneratedTokens));
        Assert.Empty(console.Errors);
    }

    [Fact]
    public async Task An_error_after_some_pieces_ends_their_line_and_reaches_the_caller_with_its_code()
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();
        var console = new FakeTerminal(string.Empty);

        var running = GenerateCommand.RunAsync(client, new GenerateRequest("bitnet") { Prompt = "Hi" }, console.Terminal, json: false);
        var generate = await server.ReadAsync();
        await server.SendAsync(Generation.Token(generate, 0, "Hel"), ScriptedServer.Error(MessageType.Generate, generate.Id, ErrorCodes.Internal, "The decoder failed."));

        var error = await Assert.ThrowsAsync<EdgeRuntimeException>(() => running.WaitAsync(ScriptedServer.Patience));
        Assert.Equal(ErrorCodes.Internal, error.Code);
        Assert.Equal("Hel\n", console.Output);
    }

    [Fact]
    public async Task Ctrl_C_during_a_generation_cancels_it_at_the_daemon_and_prints_what_came_and_a_second_one_ends_the_program()
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();
        var console = new FakeTerminal(string.Empty);

        var running = GenerateCommand.RunAsync(client, new GenerateRequest("bitnet") { Prompt = "Count" }, console.Terminal, json: false);
        var generate = await server.ReadAsync();
        await server.SendAsync(Generation.Token(generate, 0, "1, 2"));
        await Eventually.TrueAsync(() => console.Output == "1, 2", "the first piece on stdout");

        Assert.True(console.Terminal.Interrupt.Interrupt(), "the first Ctrl+C is taken: the program carries on");
        var cancel = await Generation.ExpectCancelAsync(server, generate);
        Assert.False(console.Terminal.Interrupt.Interrupt(), "a second Ctrl+C is left to end the program");

        await server.SendAsync(Generation.Token(generate, 1, ", 3"), Generation.CancelAnswer(cancel, generate), Generation.Final(generate, StopReasons.Cancelled));
        Assert.Equal(GenerateCommand.Interrupted, await running.WaitAsync(ScriptedServer.Patience));
        Assert.Equal("1, 2, 3\n", console.Output);
        Assert.Contains("stop: cancelled", console.Errors, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Chat_keeps_the_session_at_the_daemon_sends_only_new_messages_and_reset_starts_again()
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();
        var console = new FakeTerminal("Hi\n\nWhat is 2+2?\n/reset\nHello again\n");
        var conversation = new ChatConversation(new GenerateRequest("bitnet") { MaxTokens = 20 }, "Be brief.");

        var running = ChatCommand.RunAsync(client, conversation, console.Terminal, json: false);

        var first = await server.ReadAsync();
        var firstRequest = Generation.Parse(first);
        Assert.Equal([("system", "Be brief."), ("user", "Hi")], firstRequest.Messages!.Select(m => (m.Role, m.Content)));
        Assert.True(firstRequest.Keep);
        Assert.Null(firstRequest.Session);
        Assert.Equal(20, firstRequest.MaxTokens);
        await server.SendAsync(Generation.Token(first, 0, "Hello!"), Generation.Final(first, session: "s-1"));

        // The empty line was skipped; the next turn continues the session with the new message only.
        var second = await server.ReadAsync();
        var secondRequest = Generation.Parse(second);
        Assert.Equal([("user", "What is 2+2?")], secondRequest.Messages!.Select(m => (m.Role, m.Content)));
        Assert.Equal("s-1", secondRequest.Session);
        Assert.False(secondRequest.Keep);
        Assert.Equal(20, secondRequest.MaxTokens);
        await server.SendAsync(Generation.Token(second, 0, "4"), Generation.Final(second, session: "s-1"));

        var third = await server.ReadAsync();
        var thirdRequest = Generation.Parse(third);
        Assert.Equal([("system", "Be brief."), ("user", "Hello again")], thirdRequest.Messages!.Select(m => (m.Role, m.Content)));
        Assert.True(thirdRequest.Keep);
        Assert.Null(thirdRequest.Session);
        await server.SendAsync(Generation.Token(third, 0, "Hi."), Generation.Final(third, session: "s-2"));

        Assert.Equal(0, await running.WaitAsync(ScriptedServer.Patience));
        Assert.Equal("Hello!\n4\nHi.\n", console.Output);
        Assert.Equal("s-2", conversation.Session);
        Assert.Contains("(new conversation)", console.Errors, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Chat_starts_a_lost_session_again_from_its_transcript()
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();
        var console = new FakeTerminal("Hi\nAnd then?\n/exit\nnever sent\n");
        var running = ChatCommand.RunAsync(client, new ChatConversation(new GenerateRequest("bitnet"), system: null), console.Terminal, json: false);

        var first = await server.ReadAsync();
        await server.SendAsync(Generation.Token(first, 0, "Hey"), Generation.Final(first, session: "s-1"));
        var second = await server.ReadAsync();
        Assert.Equal("s-1", Generation.Parse(second).Session);
        await server.SendAsync(ScriptedServer.Error(MessageType.Generate, second.Id, ErrorCodes.UnknownSession, "No session 's-1'."));

        var restart = await server.ReadAsync();
        var again = Generation.Parse(restart);
        Assert.Null(again.Session);
        Assert.True(again.Keep);
        Assert.Equal([("user", "Hi"), ("assistant", "Hey"), ("user", "And then?")], again.Messages!.Select(m => (m.Role, m.Content)));
        await server.SendAsync(Generation.Token(restart, 0, "Then"), Generation.Final(restart, session: "s-3"));

        // /exit ended the chat: the line after it was never sent.
        Assert.Equal(0, await running.WaitAsync(ScriptedServer.Patience));
        Assert.Equal("Hey\nThen\n", console.Output);
        Assert.Contains("sending the conversation again", console.Errors, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_turns_error_is_printed_and_the_conversation_goes_on_without_that_message()
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();
        var console = new FakeTerminal("A very long message\nShort\n");
        var conversation = new ChatConversation(new GenerateRequest("bitnet"), system: null);
        var running = ChatCommand.RunAsync(client, conversation, console.Terminal, json: false);

        var first = await server.ReadAsync();
        await server.SendAsync(ScriptedServer.Error(MessageType.Generate, first.Id, ErrorCodes.ContextOverflow, "The prompt does not fit."));
        var second = Generation.Parse(await server.ReadAsync());
        Assert.Equal([("user", "Short")], second.Messages!.Select(m => (m.Role, m.Content)));
        Assert.True(second.Keep);

        Assert.Contains("edgectl: context_overflow: The prompt does not fit.", console.Errors, StringComparison.Ordinal);
        Assert.Contains("/reset", console.Errors, StringComparison.Ordinal);
        server.CloseConnection();
        var lost = await Assert.ThrowsAsync<EdgeRuntimeException>(() => running.WaitAsync(ScriptedServer.Patience));
        Assert.Equal("connection_lost", lost.Code);
    }

    [Fact]
    public async Task A_cancelled_turn_keeps_its_partial_answer_in_the_conversation()
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();
        var console = new FakeTerminal("Tell me a story\n");
        var conversation = new ChatConversation(new GenerateRequest("bitnet"), system: null);
        var running = ChatCommand.RunAsync(client, conversation, console.Terminal, json: false);

        var generate = await server.ReadAsync();
        await server.SendAsync(Generation.Token(generate, 0, "Once"));
        await Eventually.TrueAsync(() => console.Output == "Once", "the first piece on stdout");
        Assert.True(console.Terminal.Interrupt.Interrupt());
        var cancel = await Generation.ExpectCancelAsync(server, generate);
        await server.SendAsync(Generation.CancelAnswer(cancel, generate), Generation.Final(generate, StopReasons.Cancelled, generated: 1, session: "s-1"));

        Assert.Equal(0, await running.WaitAsync(ScriptedServer.Patience));
        Assert.Equal([("user", "Tell me a story"), ("assistant", "Once")], conversation.Transcript.Select(m => (m.Role, m.Content)));
        Assert.Equal("s-1", conversation.Session);
    }

    /// <summary>Stdin from a string; stdout and stderr into strings that other threads may read while the command writes.</summary>
    private sealed class FakeTerminal
    {
        private readonly StringWriter _output = new();
        private readonly StringWriter _errors = new();

        public FakeTerminal(string input) =>
            Terminal = new Terminal(new StringReader(input), TextWriter.Synchronized(_output), TextWriter.Synchronized(_errors), new GenerationInterrupt(), Interactive: false);

        public Terminal Terminal { get; }

        public string Output
        {
            get
            {
                lock (Terminal.Out)
                {
                    return _output.ToString();
                }
            }
        }

        public string Errors
        {
            get
            {
                lock (Terminal.Error)
                {
                    return _errors.ToString();
                }
            }
        }
    }
}
