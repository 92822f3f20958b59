using System.Text.Json;
using System.Text.RegularExpressions;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Generation.Tokenization;

/// <summary>
/// Reads a Hugging Face tokenizer.json of a byte-level BPE model (GPT-2, Llama 3, LFM2) with JsonDocument, so no
/// reflection is involved. Anything that would change how text is split or merged and that is not handled here is
/// refused with <see cref="ErrorCodes.ModelInvalid"/> rather than ignored: a model fed differently split text
/// still answers, just worse, and nobody would notice why.
/// </summary>
internal static class TokenizerJson
{
    /// <summary>The GPT-2 pattern HF's ByteLevel pre-tokenizer applies when its use_regex is on.</summary>
    private const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    public static TokenizerDefinition Read(string path)
    {
        ReadOnlyMemory<byte> json;
        try
        {
            json = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Invalid(path, $"cannot be read ({e.Message})");
        }

        // Utf8JsonReader does not skip a byte order mark, and files saved by some editors start with one.
        if (json.Span.StartsWith("\uFEFF"u8))
        {
            json = json[3..];
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException e)
        {
            throw Invalid(path, $"is not valid JSON ({e.Message})");
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw Invalid(path, $"holds a JSON {Kind(root)}, not the object of a tokenizer");
            }

            JsonElement model = Property(path, root, "model", "model", JsonValueKind.Object);
            string type = model.TryGetProperty("type", out JsonElement typeElement) && typeElement.ValueKind == JsonValueKind.String
                ? typeElement.GetString()!
                : throw Invalid(path, "has no model.type (the tokenizer model: BPE, Unigram, WordPiece, ...)");
            if (type != "BPE")
            {
                throw Invalid(path, $"model.type is '{type}'; only byte-level 'BPE' tokenizers are supported");
            }

            RefuseAffixes(path, model);
            bool ignoreMerges = model.TryGetProperty("ignore_merges", out JsonElement ignore) && ignore.ValueKind == JsonValueKind.True;
            Dictionary<string, int> vocabulary = ReadVocabulary(path, Property(path, model, "vocab", "model.vocab", JsonValueKind.Object));
            List<string> merges = ReadMerges(path, Property(path, model, "merges", "model.merges", JsonValueKind.Array));
            IReadOnlyList<AddedToken> added = ReadAddedTokens(path, root);

            RefuseNormalizer(path, root);
            IReadOnlyList<Regex> splits = ReadPreTokenizer(path, root);
            CheckDecoder(path, root);
            return new TokenizerDefinition(vocabulary, merges, added, splits, ignoreMerges);
        }
    }

    public static EdgeRuntimeException Invalid(string path, string problem) =>
        new(ErrorCodes.ModelInvalid, $"Tokenizer file {path} {problem}.");

    private static JsonElement Property(string path, JsonElement parent, string name, string field, JsonValueKind kind)
    {
        if (!parent.TryGetProperty(name, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            throw Invalid(path, $"has no {field}");
        }

        return value.ValueKind == kind
            ? value
            : throw Invalid(path, $"has a {Kind(value)} for {field} where a JSON {kind.ToString().ToLowerInvariant()} belongs");
    }

    private static string Kind(JsonElement element) => element.ValueKind.ToString().ToLowerInvariant();

    private static void RefuseAffixes(string path, JsonElement model)
    {
        // Word-piece style affixes have no place in a byte-level vocabulary; if a file has them, it is not one.
        foreach (string name in (ReadOnlySpan<string>)["continuing_subword_prefix", "end_of_word_suffix"])
        {
            if (model.TryGetProperty(name, out JsonElement affix) && affix.ValueKind == JsonValueKind.String && affix.GetString()!.Length > 0)
            {
                throw Invalid(path, $"sets model.{name} to '{affix.GetString()}', which byte-level BPE does not use");
            }
        }
    }

    private static Dictionary<string, int> ReadVocabulary(string path, JsonElement vocab)
    {
        var vocabulary = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (JsonProperty entry in vocab.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id) || id < 0)
            {
                throw Invalid(path, $"model.vocab gives '{entry.Name}' the id {entry.Value.GetRawText()}, not a non-negative integer");
            }

            if (!vocabulary.TryAdd(entry.Name, id))
            {
                throw Invalid(path, $"model.vocab lists '{entry.Name}' twice");
            }
        }

        if (vocabulary.Count == 0)
        {
            throw Invalid(path, "has an empty model.vocab");
        }

        return vocabulary;
    }

    private static List<string> ReadMerges(string path, JsonElement array)
    {
        // Older files write a merge as "left right", tokenizers 0.20 and later as ["left", "right"]; byte-level
        // token text never holds a space (the alphabet spells it 'Ġ'), so the joined form is unambiguous.
        var merges = new List<string>(array.GetArrayLength());
        int index = 0;
        foreach (JsonElement merge in array.EnumerateArray())
        {
            string? pair = merge.ValueKind switch
            {
                JsonValueKind.String => merge.GetString(),
                JsonValueKind.Array when merge.GetArrayLength() == 2
                    && merge[0].ValueKind == JsonValueKind.String && merge[1].ValueKind == JsonValueKind.String
                    && !merge[0].GetString()!.Contains(' ', StringComparison.Ordinal)
                    && !merge[1].GetString()!.Contains(' ', StringComparison.Ordinal)
                    => string.Concat(merge[0].GetString(), " ", merge[1].GetString()),
                _ => null,
            };

            int space = pair?.IndexOf(' ', StringComparison.Ordinal) ?? -1;
            if (pair is null || space <= 0 || space == pair.Length - 1 || pair.IndexOf(' ', space + 1) >= 0)
            {
                throw Invalid(path, $"model.merges[{index}] is {merge.GetRawText()}, not a pair of tokens");
            }

            merges.Add(pair);
            index++;
        }

        return merges;
    }

    private static IReadOnlyList<AddedToken> ReadAddedTokens(string path, JsonElement root)
    {
        if (!root.TryGetProperty("added_tokens", out JsonElement array) || array.ValueKind == JsonValueKind.Null)
        {
            return [];
        }

        if (array.ValueKind != JsonValueKind.Array)
        {
            throw Invalid(path, $"has a {Kind(array)} for added_tokens where a JSON array belongs");
        }

        var tokens = new List<AddedToken>(array.GetArrayLength());
        int index = 0;
        foreach (JsonElement token in array.EnumerateArray())
        {
            if (token.ValueKind != JsonValueKind.Object
                || !token.TryGetProperty("id", out JsonElement id) || id.ValueKind != JsonValueKind.Number || !id.TryGetInt32(out int value) || value < 0
                || !token.TryGetProperty("content", out JsonElement content) || content.ValueKind != JsonValueKind.String
                || content.GetString()!.Length == 0)
            {
                throw Invalid(path, $"added_tokens[{index}] is not a token with a non-negative id and a non-empty content");
            }

            // lstrip, rstrip and single_word only change how whitespace next to the token is split off; the
            // prompts the templates build never put whitespace there, so they are read past.
            bool special = token.TryGetProperty("special", out JsonElement flag) && flag.ValueKind == JsonValueKind.True;
            tokens.Add(new AddedToken(value, content.GetString()!, special));
            index++;
        }

        return tokens;
    }

    private static void RefuseNormalizer(string path, JsonElement root)
    {
        if (root.TryGetProperty("normalizer", out JsonElement normalizer) && normalizer.ValueKind != JsonValueKind.Null)
        {
            throw Invalid(path, $"has a normalizer ({TypeName(normalizer)}); only tokenizers without one are supported");
        }
    }

    private static string TypeName(JsonElement step) =>
        step.ValueKind == JsonValueKind.Object && step.TryGetProperty("type", out JsonElement type) && type.ValueKind == JsonValueKind.String
            ? $"type '{type.GetString()}'"
            : $"a JSON {Kind(step)}";

    private static IReadOnlyList<Regex> ReadPreTokenizer(string path, JsonElement root)
    {
        JsonElement pre = Property(path, root, "pre_tokenizer", "pre_tokenizer", JsonValueKind.Object);
        var splits = new List<Regex>();
        bool byteLevel = false;
        if (Type(pre) == "Sequence")
        {
            JsonElement steps = Property(path, pre, "pretokenizers", "pre_tokenizer.pretokenizers", JsonValueKind.Array);
            int index = 0;
            foreach (JsonElement step in steps.EnumerateArray())
            {
                byteLevel |= ReadStep(path, step, $"pre_tokenizer.pretokenizers[{index}]", splits);
                index++;
            }
        }
        else
        {
            byteLevel = ReadStep(path, pre, "pre_tokenizer", splits);
        }

        if (!byteLevel)
        {
            throw Invalid(path, "has no ByteLevel step in pre_tokenizer; only byte-level BPE tokenizers are supported");
        }

        return splits;
    }

    private static string? Type(JsonElement step) =>
        step.ValueKind == JsonValueKind.Object && step.TryGetProperty("type", out JsonElement type) && type.ValueKind == JsonValueKind.String
            ? type.GetString()
            : null;

    /// <summary>Adds the step's pattern to <paramref name="splits"/>; true when the step is the ByteLevel one.</summary>
    private static bool ReadStep(string path, JsonElement step, string field, List<Regex> splits)
    {
        switch (Type(step))
        {
            case "Split":
                splits.Add(ReadSplit(path, step, field));
                return false;
            case "ByteLevel":
                if (step.TryGetProperty("add_prefix_space", out JsonElement prefix) && prefix.ValueKind == JsonValueKind.True)
                {
                    throw Invalid(path, $"sets {field}.add_prefix_space, which is not supported");
                }

                // HF's default for use_regex is true: GPT-2's own files rely on it.
                bool useRegex = !step.TryGetProperty("use_regex", out JsonElement regex) || regex.ValueKind != JsonValueKind.False;
                if (useRegex)
                {
                    splits.Add(Compile(path, Gpt2Pattern, field));
                }

                return true;
            default:
                throw Invalid(path, $"has {field} of {TypeName(step)}; supported steps are Split (Isolated) and ByteLevel");
        }
    }

    private static Regex ReadSplit(string path, JsonElement step, string field)
    {
        string behavior = step.TryGetProperty("behavior", out JsonElement b) && b.ValueKind == JsonValueKind.String ? b.GetString()! : "(none)";
        if (behavior != "Isolated")
        {
            throw Invalid(path, $"sets {field}.behavior to '{behavior}'; only 'Isolated' is supported");
        }

        if (step.TryGetProperty("invert", out JsonElement invert) && invert.ValueKind == JsonValueKind.True)
        {
            throw Invalid(path, $"sets {field}.invert, which is not supported");
        }

        JsonElement pattern = Property(path, step, "pattern", $"{field}.pattern", JsonValueKind.Object);
        if (pattern.TryGetProperty("Regex", out JsonElement regex) && regex.ValueKind == JsonValueKind.String)
        {
            return Compile(path, regex.GetString()!, $"{field}.pattern.Regex");
        }

        if (pattern.TryGetProperty("String", out JsonElement literal) && literal.ValueKind == JsonValueKind.String && literal.GetString()!.Length > 0)
        {
            return Compile(path, Regex.Escape(literal.GetString()!), $"{field}.pattern.String");
        }

        throw Invalid(path, $"has {field}.pattern without a Regex or String");
    }

    private static Regex Compile(string path, string pattern, string field)
    {
        try
        {
            // Interpreted, not Compiled: Native AOT has no JIT to compile into, and a pattern runs over short text.
            return new Regex(pattern, RegexOptions.CultureInvariant);
        }
        catch (ArgumentException e)
        {
            throw Invalid(path, $"has a {field} that .NET cannot use as a regular expression ({e.Message})");
        }
    }

    private static void CheckDecoder(string path, JsonElement root)
    {
        if (!root.TryGetProperty("decoder", out JsonElement decoder) || decoder.ValueKind == JsonValueKind.Null)
        {
            return;
        }

        if (Type(decoder) != "ByteLevel")
        {
            throw Invalid(path, $"has a decoder of {TypeName(decoder)}; a byte-level tokenizer decodes with ByteLevel");
        }
    }
}
