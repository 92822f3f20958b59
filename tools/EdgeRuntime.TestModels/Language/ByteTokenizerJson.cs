using System.Text;
using System.Text.Json;

namespace EdgeRuntime.TestModels.Language;

/// <summary>
/// Writes a Hugging Face tokenizer.json in the byte-level BPE layout Llama-3 and GPT-2 use: one token per byte (ids
/// 0..255, spelled with the GPT-2 byte-to-character table), the given merges, and special tokens after them. Small
/// enough for tests, real enough that the production loader reads it like a downloaded one.
/// </summary>
public static class ByteTokenizerJson
{
    /// <summary>The Llama-3 pre-tokenizer regex (contractions, letters, 1-3 digits, punctuation, whitespace).</summary>
    public const string SplitPattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>GPT-2's reversible map from bytes to printable characters (what byte-level vocabularies are spelled in).</summary>
    public static char[] ByteToChar()
    {
        var map = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[b] = printable ? (char)b : (char)next++;
        }

        return map;
    }

    /// <summary>The vocabulary's spelling of a UTF-8 string's bytes.</summary>
    public static string Spell(string text)
    {
        var map = ByteToChar();
        var builder = new StringBuilder();
        foreach (byte b in Encoding.UTF8.GetBytes(text))
        {
            builder.Append(map[b]);
        }

        return builder.ToString();
    }

    /// <summary>
    /// Writes the file. <paramref name="merges"/> are pairs of plain text pieces (e.g. ("t", "h")), each adding the
    /// merged token after the bytes in order; special tokens take the ids after those.
    /// </summary>
    public static void Write(string path, IReadOnlyList<(string Left, string Right)> merges, IReadOnlyList<string> specialTokens)
    {
        var vocabulary = new List<string>();
        var map = ByteToChar();
        for (int b = 0; b < 256; b++)
        {
            vocabulary.Add(map[b].ToString());
        }

        foreach (var (left, right) in merges)
        {
            vocabulary.Add(Spell(left) + Spell(right));
        }

        using var stream = File.Create(path);
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteString("version", "1.0");
        json.WriteStartArray("added_tokens");
        for (int i = 0; i < specialTokens.Count; i++)
        {
            json.WriteStartObject();
            json.WriteNumber("id", vocabulary.Count + i);
            json.WriteString("content", specialTokens[i]);
            json.WriteBoolean("single_word", false);
            json.WriteBoolean("lstrip", false);
            json.WriteBoolean("rstrip", false);
            json.WriteBoolean("normalized", false);
            json.WriteBoolean("special", true);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteNull("normalizer");
        json.WriteStartObject("pre_tokenizer");
        json.WriteString("type", "Sequence");
        json.WriteStartArray("pretokenizers");
        json.WriteStartObject();
        json.WriteString("type", "Split");
        json.WriteStartObject("pattern");
        json.WriteString("Regex", SplitPattern);
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
        json.WriteEndObject();
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
        json.WriteBoolean("ignore_merges", true);
        json.WriteStartObject("vocab");
        for (int id = 0; id < vocabulary.Count; id++)
        {
            json.WriteNumber(vocabulary[id], id);
        }

        json.WriteEndObject();
        json.WriteStartArray("merges");
        foreach (var (left, right) in merges)
        {
            json.WriteStartArray();
            json.WriteStringValue(Spell(left));
            json.WriteStringValue(Spell(right));
            json.WriteEndArray();
        }

        json.WriteEndArray();
        json.WriteEndObject();
        json.WriteEndObject();
    }
}
