using System.Text;
using EdgeRuntime.Generation.Tokenization;

namespace EdgeRuntime.Generation.Tests.Tokenization;

public sealed class ModelTokenizerTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Theory]
    [InlineData("Hello, world!")]
    [InlineData("  two spaces,\ttabs\r\nand CRLF lines\n\n")]
    [InlineData("Ça déjà vu — naïve café, Straße, ελληνικά")]
    [InlineData("emoji 😀👍🏽 and 🇫🇷 flags, CJK 日本語, astral 𝐀𝟎")]
    [InlineData("")]
    public void Text_round_trips_through_encode_and_decode(string text)
    {
        var file = new TokenizerFile();
        file.Word("Hello");
        file.Word(" world");
        file.Word("é");
        file.Word("😀");
        ModelTokenizer tokenizer = Load(file);

        IReadOnlyList<int> ids = tokenizer.Encode(text);

        Assert.Equal(text, tokenizer.Decode([.. ids]));
        Assert.Equal(Encoding.UTF8.GetBytes(text), ids.SelectMany(tokenizer.TokenBytes).ToArray());
    }

    [Fact]
    public void Without_merges_every_byte_is_its_own_token()
    {
        ModelTokenizer tokenizer = Load(new TokenizerFile());

        Assert.Equal([0x68, 0x69, 0x20, 0xC3, 0xA9], tokenizer.Encode("hi é"));
    }

    [Fact]
    public void A_merged_word_encodes_as_one_token()
    {
        var file = new TokenizerFile();
        int hello = file.Word("hello");
        int world = file.Word(" world");
        int accent = file.Word("é");
        ModelTokenizer tokenizer = Load(file);

        Assert.Equal([hello], tokenizer.Encode("hello"));
        Assert.Equal([hello, world], tokenizer.Encode("hello world"));
        Assert.Equal([accent], tokenizer.Encode("é"));
        Assert.Equal("hello"u8.ToArray(), tokenizer.TokenBytes(hello));
        Assert.Equal(" world"u8.ToArray(), tokenizer.TokenBytes(world));
    }

    [Fact]
    public void Merges_apply_in_file_order()
    {
        // "abc" can become a|bc or ab|c: the merge listed first wins, whatever order ids have.
        var bcFirst = new TokenizerFile();
        int bc = bcFirst.Merge("b", "c");
        bcFirst.Merge("a", "b");
        var abFirst = new TokenizerFile();
        int ab = abFirst.Merge("a", "b");
        abFirst.Merge("b", "c");

        Assert.Equal(['a', bc], Load(bcFirst).Encode("abc"));
        Assert.Equal([ab, 'c'], Load(abFirst).Encode("abc"));
    }

    [Fact]
    public void Merges_written_as_pairs_of_strings_are_read()
    {
        var file = new TokenizerFile { MergesAsArrays = true };
        int hello = file.Word("hello");

        Assert.Equal([hello], Load(file).Encode("hello"));
    }

    [Fact]
    public void Special_token_text_maps_to_its_id()
    {
        var file = new TokenizerFile();
        int hi = file.Word("Hi");
        int bos = file.Added("<|begin_of_text|>");
        int eot = file.Added("<|eot_id|>");
        int header = file.Added("<|start_header_id|>");
        ModelTokenizer tokenizer = Load(file);

        Assert.Equal([bos, hi, eot], tokenizer.Encode("<|begin_of_text|>Hi<|eot_id|>"));
        Assert.Equal([header, hi, header], tokenizer.Encode("<|start_header_id|>Hi<|start_header_id|>"));

        // Text that only looks like a special token is plain bytes.
        Assert.Equal("<|eot_id".Select(c => (int)c), tokenizer.Encode("<|eot_id"));
    }

    [Fact]
    public void The_longest_added_token_wins_where_two_start_together()
    {
        var file = new TokenizerFile();
        int shortToken = file.Added("<|a|>");
        int longToken = file.Added("<|a|>b");
        ModelTokenizer tokenizer = Load(file);

        Assert.Equal([longToken, shortToken], tokenizer.Encode("<|a|>b<|a|>"));
    }

    [Fact]
    public void Special_tokens_are_listed_with_their_ids()
    {
        var file = new TokenizerFile();
        int eot = file.Added("<|eot_id|>");
        int plain = file.Added("<extra>", special: false);
        ModelTokenizer tokenizer = Load(file);

        Assert.Equal(eot, tokenizer.TokenId("<|eot_id|>"));
        Assert.Equal(plain, tokenizer.TokenId("<extra>"));
        Assert.Null(tokenizer.TokenId("<|nope|>"));
        Assert.Equal([eot], tokenizer.SpecialIds);
        Assert.Equal(plain + 1, tokenizer.VocabularySize);
        Assert.Equal("<|eot_id|>"u8.ToArray(), tokenizer.TokenBytes(eot));
    }

    [Fact]
    public void Vocabulary_size_is_one_past_the_highest_id()
    {
        var file = new TokenizerFile();
        file.Word("abc");
        file.Added("<|reserved|>", id: 400);

        Assert.Equal(401, Load(file).VocabularySize);
    }

    [Fact]
    public void Ids_without_a_token_stand_for_no_bytes()
    {
        var file = new TokenizerFile();
        file.Added("<|reserved|>", id: 300);
        ModelTokenizer tokenizer = Load(file, expectedVocabularySize: 512);

        Assert.Empty(tokenizer.TokenBytes(280));
        Assert.Empty(tokenizer.TokenBytes(500));
        Assert.Equal("a", tokenizer.Decode([280, 'a', 500]));
    }

    [Fact]
    public void Decode_can_leave_special_tokens_out()
    {
        var file = new TokenizerFile();
        int eot = file.Added("<|eot_id|>");
        ModelTokenizer tokenizer = Load(file);

        Assert.Equal("ok<|eot_id|>", tokenizer.Decode(['o', 'k', eot]));
        Assert.Equal("ok", tokenizer.Decode(['o', 'k', eot], includeSpecial: false));
    }

    [Fact]
    public void Encode_appends_to_a_list()
    {
        ModelTokenizer tokenizer = Load(new TokenizerFile());
        var ids = new List<int> { 7 };

        tokenizer.Encode("ab", ids);

        Assert.Equal([7, 'a', 'b'], ids);
    }

    [Fact]
    public void Gpt2_pattern_splits_words_before_bpe()
    {
        // GPT-2's layout: ByteLevel with use_regex. " hello world" is " hello" and " world" before BPE, so a merge
        // of "o" with the following space never applies across the word boundary.
        var file = new TokenizerFile { Llama3Layout = false };
        file.Merge("o", " ");
        int hello = file.Word(" hello");
        int world = file.Word(" world");
        ModelTokenizer tokenizer = Load(file);

        Assert.Equal([hello, world], tokenizer.Encode(" hello world"));
    }

    [Fact]
    public void Gpt2_pattern_keeps_a_trailing_space_run_apart_from_the_next_word()
    {
        var file = new TokenizerFile { Llama3Layout = false };
        int spaces = file.Word("  ");
        int word = file.Word(" x");
        ModelTokenizer tokenizer = Load(file);

        // "\s+(?!\S)" takes all but the last space, which goes with the word.
        Assert.Equal([spaces, word], tokenizer.Encode("   x"));
    }

    [Fact]
    public void Llama3_pattern_splits_digits_in_threes()
    {
        var file = new TokenizerFile();
        file.Word("12345");
        int first = file.Word("123");
        int second = file.Word("45");
        ModelTokenizer tokenizer = Load(file);

        Assert.Equal([first, second], tokenizer.Encode("12345"));
    }

    [Fact]
    public void Llama3_pattern_takes_an_emoji_as_one_character_before_a_word()
    {
        // "[^\r\n\p{L}\p{N}]?\p{L}+" lets one non-letter lead a word; HF matches code points, so "😀abc" is one
        // piece and the emoji's last byte (0x80) can merge with "a". Split by UTF-16 units it would be two pieces.
        var file = new TokenizerFile();
        int merged = file.MergeSpelled(TokenizerFile.Spell([0x80]), "a");
        ModelTokenizer tokenizer = Load(file);

        Assert.Equal([0xF0, 0x9F, 0x98, merged, 'b', 'c'], tokenizer.Encode("😀abc"));
        Assert.Equal("😀abc", tokenizer.Decode([.. tokenizer.Encode("😀abc")]));
    }

    [Fact]
    public void Ignore_merges_takes_a_whole_word_from_the_vocabulary()
    {
        // "abc" is in the vocabulary but no merge builds it: only ignore_merges (Llama 3, tiktoken) reaches it.
        var plain = new TokenizerFile();
        plain.Token("abc");
        var ignoring = new TokenizerFile { IgnoreMerges = true };
        int abc = ignoring.Token("abc");

        Assert.Equal(['a', 'b', 'c'], Load(plain).Encode("abc"));
        Assert.Equal([abc], Load(ignoring).Encode("abc"));
        Assert.Equal(['a', 'b', 'c', 'd'], Load(ignoring).Encode("abcd"));
    }

    private ModelTokenizer Load(TokenizerFile file, int expectedVocabularySize = 1024) =>
        ModelTokenizer.Load(file.WriteTo(_folder, $"tokenizer-{Guid.NewGuid():N}.json"), expectedVocabularySize);
}
