using System.Text;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Generation.Tokenization;

/// <summary>
/// Renders a chat into the prompt text a model was trained on, ending with the generation prompt that opens the
/// assistant's turn. The templates are written out here rather than run from tokenizer_config.json's Jinja: a
/// daemon on a board carries no template engine, and three fixed shapes cover the models it serves. The text holds
/// special-token strings (&lt;|eot_id|&gt;), which <see cref="ModelTokenizer.Encode(ReadOnlySpan{char})"/> turns
/// into their ids.
/// </summary>
/// <remarks>
/// A continuation (<c>isContinuation: true</c>) is the text that follows a kept session: no begin-of-text token,
/// and it starts right after the end-of-turn token of the previous assistant reply. The engine therefore makes
/// sure the session holds that token (feeding <see cref="EndOfTurnToken"/>'s id itself when the reply stopped for
/// another reason) before it appends a continuation.
/// </remarks>
public sealed class ChatTemplate
{
    public const string BitNetName = "bitnet";
    public const string Llama3Name = "llama3";
    public const string ChatMLName = "chatml";

    private readonly Style _style;

    private ChatTemplate(string name, Style style, string beginOfText, string endOfTurnToken, string afterEndOfTurn, string generationPrompt)
    {
        Name = name;
        _style = style;
        BeginOfText = beginOfText;
        EndOfTurnToken = endOfTurnToken;
        AfterEndOfTurn = afterEndOfTurn;
        GenerationPrompt = generationPrompt;
    }

    private enum Style
    {
        BitNet,
        Llama3,
        ChatML,
    }

    /// <summary>The names <see cref="ForName"/> knows, as a model's config names its template.</summary>
    public static IReadOnlyList<string> Names { get; } = [BitNetName, Llama3Name, ChatMLName];

    public string Name { get; }

    /// <summary>The token a rendering starts with (not a continuation).</summary>
    public string BeginOfText { get; }

    /// <summary>The token that closes every message, so the engine can stop when the model writes it.</summary>
    public string EndOfTurnToken { get; }

    /// <summary>Text the template puts after a message's end-of-turn token ("\n" for ChatML).</summary>
    public string AfterEndOfTurn { get; }

    /// <summary>The text that opens the assistant's turn, at the end of every rendering.</summary>
    public string GenerationPrompt { get; }

    /// <summary>The template a model's config names.</summary>
    /// <exception cref="EdgeRuntimeException"><see cref="ErrorCodes.ModelInvalid"/> for a name not in <see cref="Names"/>.</exception>
    public static ChatTemplate ForName(string name) => name switch
    {
        // BitNet b1.58 2B4T's chat_template in tokenizer_config.json: every message "Role: content<|eot_id|>",
        // the first after the BOS, and "Assistant: " to generate. (bitnet.cpp's llama.cpp "bitnet" template
        // differs: it writes no <|eot_id|> after the system message; the model card's is followed here.)
        BitNetName => new ChatTemplate(name, Style.BitNet, "<|begin_of_text|>", "<|eot_id|>", "", "Assistant: "),

        // Llama 3's: headers around the role, the content trimmed as its template's "| trim" does.
        Llama3Name => new ChatTemplate(
            name, Style.Llama3, "<|begin_of_text|>", "<|eot_id|>", "", "<|start_header_id|>assistant<|end_header_id|>\n\n"),

        // ChatML as LFM2 writes it: <|startoftext|> first, a newline after each <|im_end|>.
        ChatMLName => new ChatTemplate(name, Style.ChatML, "<|startoftext|>", "<|im_end|>", "\n", "<|im_start|>assistant\n"),

        _ => throw new EdgeRuntimeException(
            ErrorCodes.ModelInvalid,
            $"Chat template '{name}' is not known; the templates are {string.Join(", ", Names)}."),
    };

    /// <summary>
    /// The prompt text for <paramref name="messages"/> followed by <see cref="GenerationPrompt"/>; with
    /// <paramref name="isContinuation"/>, the text to append to a kept session instead (see the remarks).
    /// </summary>
    /// <exception cref="EdgeRuntimeException"><see cref="ErrorCodes.InvalidPrompt"/> for an empty chat, a message
    /// without content or a role other than system, user and assistant.</exception>
    public string Render(IReadOnlyList<ChatMessage> messages, bool isContinuation = false)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (messages.Count == 0)
        {
            throw new EdgeRuntimeException(ErrorCodes.InvalidPrompt, "The chat has no messages; it needs at least one.");
        }

        var text = new StringBuilder(isContinuation ? AfterEndOfTurn : BeginOfText);
        for (int i = 0; i < messages.Count; i++)
        {
            ChatMessage? message = messages[i];

            // Messages come from JSON, where null slips past the records' annotations.
            if (message?.Content is null)
            {
                throw new EdgeRuntimeException(ErrorCodes.InvalidPrompt, $"messages[{i}] has no content.");
            }

            if (message.Role is not ("system" or "user" or "assistant"))
            {
                throw new EdgeRuntimeException(
                    ErrorCodes.InvalidPrompt,
                    $"messages[{i}].role is '{message.Role}'; the roles are system, user and assistant.");
            }

            AppendMessage(text, message.Role, message.Content);
        }

        return text.Append(GenerationPrompt).ToString();
    }

    private void AppendMessage(StringBuilder text, string role, string content)
    {
        switch (_style)
        {
            case Style.BitNet:
                text.Append(role switch { "system" => "System: ", "user" => "User: ", _ => "Assistant: " })
                    .Append(content).Append(EndOfTurnToken);
                break;
            case Style.Llama3:
                text.Append("<|start_header_id|>").Append(role).Append("<|end_header_id|>\n\n")
                    .Append(content.AsSpan().Trim()).Append(EndOfTurnToken);
                break;
            case Style.ChatML:
                text.Append("<|im_start|>").Append(role).Append('\n')
                    .Append(content).Append(EndOfTurnToken).Append(AfterEndOfTurn);
                break;
        }
    }
}
