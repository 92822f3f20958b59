using System.Text;
using EdgeRuntime.Generation.Tokenization;

namespace EdgeRuntime.Generation.Tests.Tokenization;

public sealed class TokenTextStreamTests : IDisposable
{
    // U+1F600 😀 is F0 9F 98 80 in UTF-8.
    private const string Emoji = "😀";

    private readonly TempFolder _folder = new();
    private readonly TokenizerFile _file = new();
    private readonly int _emojiHead;
    private readonly int _emojiTail;
    private readonly int _eot;
    private readonly ModelTokenizer _tokenizer;

    public TokenTextStreamTests()
    {
        _emojiHead = _file.MergeSpelled(TokenizerFile.Spell([0xF0]), TokenizerFile.Spell([0x9F]));
        _emojiTail = _file.MergeSpelled(TokenizerFile.Spell([0x98]), TokenizerFile.Spell([0x80]));
        _file.Word("Hi");
        _eot = _file.Added("<|eot_id|>");
        _tokenizer = ModelTokenizer.Load(_file.WriteTo(_folder), 1024);
    }

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void An_emoji_spread_over_four_byte_tokens_comes_out_whole_with_the_last()
    {
        var stream = new TokenTextStream(_tokenizer);

        Assert.Equal("", stream.Append(0xF0));
        Assert.Equal("", stream.Append(0x9F));
        Assert.Equal("", stream.Append(0x98));
        Assert.Equal(Emoji, stream.Append(0x80));
        Assert.Equal("", stream.Flush());
    }

    [Fact]
    public void An_emoji_spread_over_two_tokens_comes_out_whole_with_the_second()
    {
        var stream = new TokenTextStream(_tokenizer);

        Assert.Equal("", stream.Append(_emojiHead));
        Assert.Equal(Emoji, stream.Append(_emojiTail));
    }

    [Fact]
    public void Complete_text_before_a_split_character_is_not_held_back()
    {
        var stream = new TokenTextStream(_tokenizer);

        Assert.Equal("a", stream.Append('a'));
        Assert.Equal("b", stream.Append('b'));
        Assert.Equal("", stream.Append(_emojiHead));
        Assert.Equal(Emoji, stream.Append(_emojiTail));
        Assert.Equal("c", stream.Append(TokenFor("c")));
    }

    [Fact]
    public void A_token_holding_the_end_of_one_character_and_the_start_of_the_next_releases_the_first()
    {
        // "é" is C3 A9: tokens [C3] [A9 F0] [9F 98 80] carry é and then 😀.
        var file = new TokenizerFile();
        int middle = file.MergeSpelled(TokenizerFile.Spell([0xA9]), TokenizerFile.Spell([0xF0]));
        file.MergeSpelled(TokenizerFile.Spell([0x9F]), TokenizerFile.Spell([0x98]));
        int rest = file.MergeSpelled(TokenizerFile.Spell([0x9F, 0x98]), TokenizerFile.Spell([0x80]));
        ModelTokenizer tokenizer = ModelTokenizer.Load(file.WriteTo(_folder, "split.json"), 1024);
        var stream = new TokenTextStream(tokenizer);

        Assert.Equal("", stream.Append(0xC3));
        Assert.Equal("é", stream.Append(middle));
        Assert.Equal(Emoji, stream.Append(rest));
    }

    [Fact]
    public void Flush_turns_a_dangling_tail_into_a_replacement_character()
    {
        var stream = new TokenTextStream(_tokenizer);

        Assert.Equal("a", stream.Append('a'));
        Assert.Equal("", stream.Append(_emojiHead));
        Assert.Equal("\uFFFD", stream.Flush());
        Assert.Equal("", stream.Flush());
        Assert.Equal("b", stream.Append('b'));
    }

    [Fact]
    public void Bytes_no_token_could_complete_are_replaced_at_once()
    {
        var stream = new TokenTextStream(_tokenizer);

        // A lone continuation byte, and a lead byte followed by ASCII.
        Assert.Equal("\uFFFD", stream.Append(0x80));
        Assert.Equal("", stream.Append(0xC3));
        Assert.Equal("\uFFFDa", stream.Append('a'));
    }

    [Fact]
    public void Special_tokens_give_no_text_unless_asked_for()
    {
        var quiet = new TokenTextStream(_tokenizer);
        var loud = new TokenTextStream(_tokenizer, includeSpecial: true);

        Assert.Equal("", quiet.Append(_eot));
        Assert.Equal("<|eot_id|>", loud.Append(_eot));
    }

    [Theory]
    [InlineData("Hi 😀, ça va? 日本語 🇫🇷 Hi")]
    [InlineData("plain ASCII only")]
    public void Streamed_text_equals_the_decoded_text(string text)
    {
        IReadOnlyList<int> ids = _tokenizer.Encode(text);
        var stream = new TokenTextStream(_tokenizer);
        var streamed = new StringBuilder();

        foreach (int id in ids)
        {
            string piece = stream.Append(id);

            // Every piece handed out is valid text on its own: never half a surrogate pair.
            Assert.True(piece.Length == 0 || !char.IsHighSurrogate(piece[^1]));
            streamed.Append(piece);
        }

        streamed.Append(stream.Flush());
        Assert.Equal(text, streamed.ToString());
    }

    private int TokenFor(string text) => Assert.Single(_tokenizer.Encode(text));
}
