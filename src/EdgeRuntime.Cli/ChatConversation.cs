using EdgeRuntime.Protocol;

namespace EdgeRuntime.Cli;

/// <summary>
/// edgectl chat's side of a conversation. The daemon keeps the session (its cache): the first turn sends the whole
/// conversation with keep, later turns only the new user message with the session's id, so the daemon prefills just
/// that. The transcript is kept here too, so that a session the daemon no longer holds (evicted, daemon restarted)
/// can be started again from it.
/// </summary>
internal sealed class ChatConversation(GenerateRequest template, string? system)
{
    private readonly List<ChatMessage> _transcript = system is null ? [] : [new ChatMessage("system", system)];
    private ChatMessage? _pending;

    /// <summary>The daemon's session holding this conversation; null until the first answer, and after a reset.</summary>
    public string? Session { get; private set; }

    public IReadOnlyList<ChatMessage> Transcript => _transcript;

    /// <summary>The request for the user's next message.</summary>
    public GenerateRequest Ask(string userText)
    {
        _pending = new ChatMessage("user", userText);
        return Request();
    }

    /// <summary>The same turn again, after the daemon lost the session: the whole conversation, kept anew.</summary>
    public GenerateRequest Restart()
    {
        Session = null;
        return Request();
    }

    /// <summary>
    /// The turn's answer. A cancelled turn counts too: the daemon's session holds the tokens generated before the
    /// cancel, so the transcript must hold them as well.
    /// </summary>
    public void Answered(string text, GenerateResponse summary)
    {
        if (_pending is not null)
        {
            _transcript.Add(_pending);
            _pending = null;
        }

        _transcript.Add(new ChatMessage("assistant", text));
        Session = summary.Session;
    }

    /// <summary>The turn failed: as if the message had not been sent.</summary>
    public void Failed() => _pending = null;

    /// <summary>A new conversation: the system message only, and a new session at the next turn.</summary>
    public void Reset()
    {
        _transcript.RemoveAll(m => m.Role != "system");
        _pending = null;
        Session = null;
    }

    private GenerateRequest Request()
    {
        var pending = _pending ?? throw new InvalidOperationException("No message to send.");
        return Session is null
            ? template with { Messages = [.. _transcript, pending], Keep = true, Session = null }
            : template with { Messages = [pending], Keep = false, Session = Session };
    }
}
