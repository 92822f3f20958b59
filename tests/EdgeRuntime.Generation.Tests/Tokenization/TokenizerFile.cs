using System.Text;
using System.Text.Json;

namespace EdgeRuntime.Generation.Tests.Tokenization;

/// <summary>
/// Writes tokenizer.json files in Hugging Face's layout for byte-level BPE: a vocabulary of the 256 byte symbols
/// (token id = byte value, so a token's bytes are easy to check) plus one token per merge, ids from 256 on in merge
/// order, and added tokens after them.
/// </summary>
internal sealed class TokenizerFile
{
    /// <summary>Llama 3's (and tiktoken cl100k_base's) pre-tokenizer pattern.</summary>
    public const string Llama3Pattern =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    private readonly List<(string Left, string Right)> _merges = [];
    private readonly List<(int Id, string Content, bool Special)> _added = [];
    private readonly Dictionary<string, int> _vocabulary = new(StringComparer.Ordinal);

    public TokenizerFile()
    {
        for (int b = 0; b < 256; b++)
        {
            _vocabulary.Add(Spell([(byte)b]), b);
        }
    }

    /// <summary>A tokenizer with a vocabulary and merges already spelled in the byte-level alphabet.</summary>
    public TokenizerFile(Dictionary<string, int> vocabulary, IEnumerable<(string Left, string Right)> merges)
    {
        _vocabulary = vocabulary;
        _merges.AddRange(merges);
    }

    /// <summary>Llama 3's layout (Sequence of Split + ByteLevel without regex); false: GPT-2's (ByteLevel, use_regex).</summary>
    public bool Llama3Layout { get; init; } = true;

    public bool IgnoreMerges { get; init; }

    /// <summary>Write merges as ["a", "b"] (tokenizers 0.20+) instead of "a b".</summary>
    public bool MergesAsArrays { get; init; }

    public int NextId => Math.Max(_vocabulary.Values.Max(), _added.Count == 0 ? -1 : _added.Max(a => a.Id)) + 1;

    /// <summary>The byte-level spelling of raw bytes, as the vocabulary holds them.</summary>
    public static string Spell(ReadOnlySpan<byte> bytes)
    {
        // GPT-2's bytes_to_unicode, written out again here so the tests do not trust the code they check.
        var text = new StringBuilder();
        foreach (byte b in bytes)
        {
            bool printable = b is >= 0x21 and <= 0x7E or >= 0xA1 and <= 0xAC or >= 0xAE;
            if (printable)
            {
                text.Append((char)b);
                continue;
            }

            int rank = 0;
            for (int other = 0; other < b; other++)
            {
                if (!(other is >= 0x21 and <= 0x7E or >= 0xA1 and <= 0xAC or >= 0xAE))
                {
                    rank++;
                }
            }

            text.Append((char)(0x100 + rank));
        }

        return text.ToString();
    }

    public static string Spell(string text) => Spell(Encoding.UTF8.GetBytes(text));

    /// <summary>Adds the merge of two tokens given by their text; returns the new token's id.</summary>
    public int Merge(string left, string right) => MergeSpelled(Spell(left), Spell(right));

    public int MergeSpelled(string left, string right)
    {
        int id = NextId;
        _merges.Add((left, right));
        _vocabulary.Add(left + right, id);
        return id;
    }

    /// <summary>Merges the text's bytes left to right into one token, adding each step; returns its id.</summary>
    public int Word(string text)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        string built = Spell(bytes.AsSpan(0, 1));
        int id = bytes[0];
        for (int i = 1; i < bytes.Length; i++)
        {
            string next = Spell(bytes.AsSpan(i, 1));
            id = _vocabulary.TryGetValue(built + next, out int existing) ? existing : MergeSpelled(built, next);
            built += next;
        }

        return id;
    }

    /// <summary>Adds a vocabulary token with no merge that builds it (only ignore_merges reaches it).</summary>
    public int Token(string text)
    {
        int id = NextId;
        _vocabulary.Add(Spell(text), id);
        return id;
    }

    public int Added(string content, bool special = true, int? id = null)
    {
        int value = id ?? NextId;
        _added.Add((value, content, special));
        return value;
    }

    public string ToJson()
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("version", "1.0");
            json.WriteNull("truncation");
            json.WriteNull("padding");
            json.WriteStartArray("added_tokens");
            foreach ((int id, string content, bool special) in _added)
            {
                json.WriteStartObject();
                json.WriteNumber("id", id);
                json.WriteString("content", content);
                json.WriteBoolean("single_word", false);
                json.WriteBoolean("lstrip", false);
                json.WriteBoolean("rstrip", false);
                json.WriteBoolean("normalized", false);
                json.WriteBoolean("special", special);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteNull("normalizer");
            WritePreTokenizer(json);
            json.WriteNull("post_processor");
            json.WriteStartObject("decoder");
            json.WriteString("type", "ByteLevel");
            json.WriteBoolean("add_prefix_space", true);
            json.WriteBoolean("trim_offsets", true);
            json.WriteBoolean("use_regex", true);
            json.WriteEndObject();
            json.WriteStartObject("model");
            json.WriteString("type", "BPE");
            json.WriteNull("dropout");
            json.WriteNull("unk_token");
            json.WriteNull("continuing_subword_prefix");
            json.WriteNull("end_of_word_suffix");
            json.WriteBoolean("fuse_unk", false);
            json.WriteBoolean("byte_fallback", false);
            json.WriteBoolean("ignore_merges", IgnoreMerges);
            json.WriteStartObject("vocab");
            foreach ((string token, int id) in _vocabulary.OrderBy(p => p.Value))
            {
                json.WriteNumber(token, id);
            }

            json.WriteEndObject();
            json.WriteStartArray("merges");
            foreach ((string left, string right) in _merges)
            {
                if (MergesAsArrays)
                {
                    json.WriteStartArray();
                    json.WriteStringValue(left);
                    json.WriteStringValue(right);
                    json.WriteEndArray();
                }
                else
                {
                    json.WriteStringValue($"{left} {right}");
                }
            }

            json.WriteEndArray();
            json.WriteEndObject();
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    public string WriteTo(TempFolder folder, string name = "tokenizer.json")
    {
        string path = folder.File(name);
        File.WriteAllText(path, ToJson());
        return path;
    }

    private void WritePreTokenizer(Utf8JsonWriter json)
    {
        json.WriteStartObject("pre_tokenizer");
        if (Llama3Layout)
        {
            json.WriteString("type", "Sequence");
            json.WriteStartArray("pretokenizers");
            json.WriteStartObject();
            json.WriteString("type", "Split");
            json.WriteStartObject("pattern");
            json.WriteString("Regex", Llama3Pattern);
            json.WriteEndObject();
            json.WriteString("behavior", "Isolated");
            json.WriteBoolean("invert", false);
            json.WriteEndObject();
            json.WriteStartObject();
            json.WriteString("type", "ByteLevel");
            json.WriteBoolean("add_prefix_space", false);
            json.WriteBoolean("trim_offsets", true);
            json.WriteBoolean("use_regex", false);
            json.WriteEndObject();
            json.WriteEndArray();
        }
        else
        {
            json.WriteString("type", "ByteLevel");
            json.WriteBoolean("add_prefix_space", false);
            json.WriteBoolean("trim_offsets", true);
            json.WriteBoolean("use_regex", true);
        }

        json.WriteEndObject();
    }
}
