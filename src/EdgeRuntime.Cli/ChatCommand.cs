using EdgeRuntime.Client;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Cli;

/// <summary>
/// edgectl chat: one conversation with a language model, a line of input per user message. EOF or /exit ends it,
/// /reset starts a new conversation (and session). A turn's error is printed and the conversation goes on; a lost
/// connection ends it (exit 1).
/// </summary>
internal static class ChatCommand
{
    public const string Prompt = "> ";

    public static async Task<int> RunAsync(EdgeClient client, ChatConversation conversation, Terminal terminal, bool json)
    {
        if (terminal.Interactive)
        {
            terminal.Error.WriteLine("Type a message; /reset starts a new conversation, /exit (or Ctrl+D) ends. Ctrl+C stops an answer.");
        }

        while (true)
        {
            if (terminal.Interactive)
            {
                terminal.Error.Write(Prompt);
            }

            string? line = await terminal.In.ReadLineAsync().ConfigureAwait(false);
            string command = line?.Trim() ?? "/exit";
            if (command == "/exit")
            {
                return 0;
            }

            if (command == "/reset")
            {
                conversation.Reset();
                terminal.Error.WriteLine("(new conversation)");
                continue;
            }

            if (command.Length == 0)
            {
                continue;
            }

            await TurnAsync(client, conversation, conversation.Ask(line!), terminal, json).ConfigureAwait(false);
        }
    }

    private static async Task TurnAsync(EdgeClient client, ChatConversation conversation, GenerateRequest request, Terminal terminal, bool json)
    {
        try
        {
            var (text, summary) = await StreamedGeneration.RunAsync(client, request, terminal, json).ConfigureAwait(false);
            conversation.Answered(text, summary);
        }
        catch (EdgeRuntimeException e) when (e.Code == ErrorCodes.UnknownSession && request.Session is not null)
        {
            // Evicted, or the daemon restarted: the transcript starts a new session where the old one stood.
            terminal.Error.WriteLine("(the daemon no longer holds this conversation's session; sending the conversation again)");
            await TurnAsync(client, conversation, conversation.Restart(), terminal, json).ConfigureAwait(false);
        }
        catch (EdgeRuntimeException e) when (!IsConnectionGone(e.Code))
        {
            conversation.Failed();
            terminal.Error.WriteLine($"edgectl: {e.Code}: {e.Message}");
            if (e.Code == ErrorCodes.ContextOverflow)
            {
                terminal.Error.WriteLine("(the conversation no longer fits the model's context: /reset starts a new one)");
            }
        }
    }

    /// <summary>Errors after which no turn can succeed on this connection: the conversation ends with them (exit 1).</summary>
    private static bool IsConnectionGone(string code) => code is "connection_lost" or "connection_closed" or "connection_refused"
        or ErrorCodes.BadFrame or ErrorCodes.FrameTimeout or ErrorCodes.ShuttingDown or ErrorCodes.Busy or ErrorCodes.PeerNotAllowed or ErrorCodes.UnsupportedVersion;
}
