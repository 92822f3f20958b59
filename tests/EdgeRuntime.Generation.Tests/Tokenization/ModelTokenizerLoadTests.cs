using System.Text.Json.Nodes;
using EdgeRuntime.Generation.Tokenization;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Generation.Tests.Tokenization;

public sealed class ModelTokenizerLoadTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void A_missing_file_is_model_not_found()
    {
        string path = _folder.File("tokenizer.json");

        var e = Assert.Throws<EdgeRuntimeException>(() => ModelTokenizer.Load(path, 1024));

        Assert.Equal(ErrorCodes.ModelNotFound, e.Code);
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Malformed_json_is_model_invalid()
    {
        string path = _folder.File("tokenizer.json");
        File.WriteAllText(path, "{\"model\": {\"type\": \"BPE\",");

        AssertInvalid(path, path, "not valid JSON");
    }

    [Fact]
    public void A_model_that_is_not_bpe_is_model_invalid()
    {
        AssertInvalid(Edited(json => json["model"]!["type"] = "Unigram"), "model.type is 'Unigram'");
    }

    [Theory]
    [InlineData("vocab", "has no model.vocab")]
    [InlineData("merges", "has no model.merges")]
    [InlineData("type", "has no model.type")]
    public void A_missing_model_field_is_named(string field, string expected)
    {
        AssertInvalid(Edited(json => json["model"]!.AsObject().Remove(field)), expected);
    }

    [Fact]
    public void A_vocabulary_entry_without_an_integer_id_is_named()
    {
        AssertInvalid(Edited(json => json["model"]!["vocab"]!["a"] = "one"), "model.vocab gives 'a' the id \"one\"");
    }

    [Fact]
    public void A_merge_that_is_not_a_pair_is_named()
    {
        AssertInvalid(Edited(json => json["model"]!["merges"]!.AsArray().Add((JsonNode)JsonValue.Create("abc"))), "model.merges[1] is \"abc\"");
    }

    [Fact]
    public void A_merge_of_tokens_outside_the_vocabulary_is_model_invalid()
    {
        AssertInvalid(Edited(json => json["model"]!["merges"]!.AsArray().Add((JsonNode)JsonValue.Create("x yz"))), "model.merges that do not fit model.vocab");
    }

    [Fact]
    public void A_vocabulary_without_every_byte_is_model_invalid()
    {
        AssertInvalid(Edited(json => json["model"]!["vocab"]!.AsObject().Remove("Ġ")), "no token for byte 0x20 ('Ġ')");
    }

    [Fact]
    public void More_token_ids_than_the_model_embeds_is_model_invalid_with_both_numbers()
    {
        var file = new TokenizerFile();
        file.Added("<|reserved|>", id: 299);
        string path = file.WriteTo(_folder);

        var e = Assert.Throws<EdgeRuntimeException>(() => ModelTokenizer.Load(path, 280));

        Assert.Equal(ErrorCodes.ModelInvalid, e.Code);
        Assert.Contains("has 300 token ids but config.json's vocabSize is 280", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_tokenizer_smaller_than_the_model_vocabulary_loads()
    {
        ModelTokenizer tokenizer = ModelTokenizer.Load(new TokenizerFile().WriteTo(_folder), 128256);

        Assert.Equal(256, tokenizer.VocabularySize);
    }

    [Fact]
    public void A_file_starting_with_a_byte_order_mark_loads()
    {
        var file = new TokenizerFile();
        int ab = file.Merge("a", "b");
        string path = _folder.File("bom.json");
        File.WriteAllBytes(path, [0xEF, 0xBB, 0xBF, .. System.Text.Encoding.UTF8.GetBytes(file.ToJson())]);

        Assert.Equal([ab], ModelTokenizer.Load(path, 1024).Encode("ab"));
    }

    [Fact]
    public void A_normalizer_is_refused()
    {
        AssertInvalid(Edited(json => json["normalizer"] = new JsonObject { ["type"] = "NFC" }), "normalizer (type 'NFC')");
    }

    [Fact]
    public void A_pre_tokenizer_that_is_not_byte_level_is_refused()
    {
        AssertInvalid(Edited(json => json["pre_tokenizer"] = new JsonObject { ["type"] = "Whitespace" }), "pre_tokenizer of type 'Whitespace'");
    }

    [Fact]
    public void A_split_that_removes_its_matches_is_refused()
    {
        AssertInvalid(
            Edited(json => json["pre_tokenizer"]!["pretokenizers"]![0]!["behavior"] = "Removed"),
            "pre_tokenizer.pretokenizers[0].behavior to 'Removed'");
    }

    [Fact]
    public void A_split_pattern_dotnet_cannot_parse_is_named()
    {
        AssertInvalid(
            Edited(json => json["pre_tokenizer"]!["pretokenizers"]![0]!["pattern"]!["Regex"] = "(unclosed"),
            "pre_tokenizer.pretokenizers[0].pattern.Regex");
    }

    [Fact]
    public void A_decoder_that_is_not_byte_level_is_refused()
    {
        AssertInvalid(Edited(json => json["decoder"] = new JsonObject { ["type"] = "WordPiece" }), "decoder of type 'WordPiece'");
    }

    [Fact]
    public void An_added_token_without_content_is_named()
    {
        AssertInvalid(Edited(json => json["added_tokens"]!.AsArray().Add((JsonNode)new JsonObject { ["id"] = 300 })), "added_tokens[0]");
    }

    private string Edited(Action<JsonNode> edit)
    {
        var file = new TokenizerFile();
        file.Merge("a", "b");
        JsonNode json = JsonNode.Parse(file.ToJson())!;
        edit(json);
        string path = _folder.File($"tokenizer-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json.ToJsonString());
        return path;
    }

    private static void AssertInvalid(string path, params string[] expected)
    {
        var e = Assert.Throws<EdgeRuntimeException>(() => ModelTokenizer.Load(path, 1024));

        Assert.Equal(ErrorCodes.ModelInvalid, e.Code);
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        foreach (string part in expected)
        {
            Assert.Contains(part, e.Message, StringComparison.Ordinal);
        }
    }
}
