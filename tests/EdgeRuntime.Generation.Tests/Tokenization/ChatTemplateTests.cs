using EdgeRuntime.Generation.Tokenization;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Generation.Tests.Tokenization;

public sealed class ChatTemplateTests
{
    private static readonly ChatMessage[] TwoTurns =
    [
        new("system", "Be brief."),
        new("user", "Hi!"),
        new("assistant", "Hello."),
        new("user", "What is 2+2?"),
    ];

    private static readonly ChatMessage[] NextTurn = [new("user", "And 3+3?")];

    [Fact]
    public void Bitnet_renders_role_prefixes_closed_by_eot()
    {
        ChatTemplate template = ChatTemplate.ForName("bitnet");

        Assert.Equal(
            "<|begin_of_text|>System: Be brief.<|eot_id|>User: Hi!<|eot_id|>Assistant: Hello.<|eot_id|>"
            + "User: What is 2+2?<|eot_id|>Assistant: ",
            template.Render(TwoTurns));
        Assert.Equal("User: And 3+3?<|eot_id|>Assistant: ", template.Render(NextTurn, isContinuation: true));
        Assert.Equal("<|eot_id|>", template.EndOfTurnToken);
    }

    [Fact]
    public void Llama3_renders_headers_and_trims_content()
    {
        ChatTemplate template = ChatTemplate.ForName("llama3");
        ChatMessage[] messages = [new("system", "Be brief."), new("user", "  Hi!\n"), new("assistant", "Hello."), new("user", "What is 2+2?")];

        Assert.Equal(
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
            + "<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>"
            + "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>"
            + "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>"
            + "<|start_header_id|>assistant<|end_header_id|>\n\n",
            template.Render(messages));
        Assert.Equal(
            "<|start_header_id|>user<|end_header_id|>\n\nAnd 3+3?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
            template.Render(NextTurn, isContinuation: true));
        Assert.Equal("<|eot_id|>", template.EndOfTurnToken);
    }

    [Fact]
    public void Chatml_renders_im_blocks_after_startoftext()
    {
        ChatTemplate template = ChatTemplate.ForName("chatml");

        Assert.Equal(
            "<|startoftext|><|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n"
            + "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
            template.Render(TwoTurns));

        // The session ends with the reply's <|im_end|>; the newline the template puts after it comes first.
        Assert.Equal("\n<|im_start|>user\nAnd 3+3?<|im_end|>\n<|im_start|>assistant\n", template.Render(NextTurn, isContinuation: true));
        Assert.Equal("<|im_end|>", template.EndOfTurnToken);
    }

    [Theory]
    [InlineData("bitnet")]
    [InlineData("llama3")]
    [InlineData("chatml")]
    public void A_continuation_is_what_the_whole_chat_adds_after_the_reply_end_of_turn(string name)
    {
        // Render(first turn) + reply + end-of-turn + Render(next, continuation) == Render(everything).
        ChatTemplate template = ChatTemplate.ForName(name);
        ChatMessage[] first = TwoTurns[..2];
        string whole = template.Render([.. first, new("assistant", "Hello."), .. NextTurn]);

        string kept = template.Render(first) + "Hello." + template.EndOfTurnToken;

        Assert.Equal(whole, kept + template.Render(NextTurn, isContinuation: true));
    }

    [Fact]
    public void Rendered_special_tokens_encode_as_their_ids()
    {
        using var folder = new TempFolder();
        var file = new TokenizerFile();
        int bos = file.Added("<|begin_of_text|>");
        int eot = file.Added("<|eot_id|>");
        ModelTokenizer tokenizer = ModelTokenizer.Load(file.WriteTo(folder), 1024);

        IReadOnlyList<int> ids = tokenizer.Encode(ChatTemplate.ForName("bitnet").Render([new ChatMessage("user", "Hi")]));

        var expected = new List<int> { bos };
        expected.AddRange(tokenizer.Encode("User: Hi"));
        expected.Add(eot);
        expected.AddRange(tokenizer.Encode("Assistant: "));
        Assert.Equal(expected, ids);
        Assert.DoesNotContain('<', ids);
    }

    [Fact]
    public void An_unknown_template_is_model_invalid()
    {
        var e = Assert.Throws<EdgeRuntimeException>(() => ChatTemplate.ForName("alpaca"));

        Assert.Equal(ErrorCodes.ModelInvalid, e.Code);
        Assert.Contains("'alpaca'", e.Message, StringComparison.Ordinal);
        Assert.Contains("bitnet, llama3, chatml", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_role_is_an_invalid_prompt()
    {
        var e = Assert.Throws<EdgeRuntimeException>(() => ChatTemplate.ForName("llama3").Render([new("user", "a"), new("tool", "b")]));

        Assert.Equal(ErrorCodes.InvalidPrompt, e.Code);
        Assert.Contains("messages[1].role is 'tool'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_empty_chat_is_an_invalid_prompt()
    {
        var e = Assert.Throws<EdgeRuntimeException>(() => ChatTemplate.ForName("chatml").Render([]));

        Assert.Equal(ErrorCodes.InvalidPrompt, e.Code);
        Assert.Contains("no messages", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_message_without_content_is_an_invalid_prompt()
    {
        var e = Assert.Throws<EdgeRuntimeException>(() => ChatTemplate.ForName("bitnet").Render([new("user", null!)]));

        Assert.Equal(ErrorCodes.InvalidPrompt, e.Code);
        Assert.Contains("messages[0] has no content", e.Message, StringComparison.Ordinal);
    }
}
