using System.Text.Json;

namespace EdgeRuntime.Conversion.Import;

/// <summary>
/// Writes a Hugging Face tokenizer.json from a GGUF's byte-level BPE vocabulary (tokenizer.ggml.model "gpt2"), in the
/// layout our tokenizer reads (docs/language-models.md): the normal tokens as model.vocab with their GGUF ids, the
/// merges, control tokens (type 3) as special added tokens and user-defined ones (type 4) as plain added tokens;
/// unused filler tokens (type 5) are left out. The pre-tokenizer follows tokenizer.ggml.pre: "llama-bpe" is Llama 3's
/// split pattern (BitNet b1.58 2B4T's tokenizer), "default"/"gpt2" GPT-2's; any other is refused, since splitting
/// text differently from training degrades the model silently.
/// </summary>
internal static class GgufTokenizerJson
{
    /// <summary>Llama 3's pre-tokenizer pattern, as its tokenizer.json (and llama.cpp's "llama-bpe") spells it.</summary>
    public const string Llama3Pattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    // llama.cpp's token types (llama_token_type; gguf-py TokenType).
    private const long Normal = 1;
    private const long Control = 3;
    private const long UserDefined = 4;
    private const long Unused = 5;

    public static byte[] Write(GgufFile gguf)
    {
        string path = gguf.Mapped.Path;
        string model = gguf.String("tokenizer.ggml.model") ?? "(none)";
        if (model != "gpt2")
        {
            throw new InvalidDataException($"{path}: tokenizer.ggml.model is '{model}'; a tokenizer.json is written only for byte-level BPE ('gpt2') vocabularies. Give the model's tokenizer.json with --tokenizer.");
        }

        string pre = gguf.String("tokenizer.ggml.pre") ?? "default";
        bool llama3 = pre is "llama-bpe" or "llama3" or "llama-v3";
        if (!llama3 && pre is not ("default" or "gpt2" or "gpt-2"))
        {
            throw new InvalidDataException($"{path}: tokenizer.ggml.pre is '{pre}', a pre-tokenizer the importer cannot spell as tokenizer.json. Give the model's tokenizer.json with --tokenizer.");
        }

        string[] tokens = gguf.Array<string>("tokenizer.ggml.tokens") ?? throw new InvalidDataException($"{path} has no tokenizer.ggml.tokens.");
        long[] types = gguf.Array<long>("tokenizer.ggml.token_type") ?? [.. tokens.Select(_ => Normal)];
        string[] merges = gguf.Array<string>("tokenizer.ggml.merges") ?? [];
        if (types.Length != tokens.Length)
        {
            throw new InvalidDataException($"{path}: tokenizer.ggml.token_type has {types.Length} entries for {tokens.Length} tokens.");
        }

        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("version", "1.0");
            json.WriteStartArray("added_tokens");
            for (int id = 0; id < tokens.Length; id++)
            {
                if (types[id] is Control or UserDefined)
                {
                    json.WriteStartObject();
                    json.WriteNumber("id", id);
                    json.WriteString("content", tokens[id]);
                    json.WriteBoolean("single_word", false);
                    json.WriteBoolean("lstrip", false);
                    json.WriteBoolean("rstrip", false);
                    json.WriteBoolean("normalized", types[id] == UserDefined);
                    json.WriteBoolean("special", types[id] == Control);
                    json.WriteEndObject();
                }
            }

            json.WriteEndArray();
            json.WriteNull("normalizer");
            WritePreTokenizer(json, llama3);
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

            // Llama 3's tokenizer.json sets ignore_merges: a piece that is itself a token is taken whole.
            json.WriteBoolean("ignore_merges", llama3);
            json.WriteStartObject("vocab");
            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (int id = 0; id < tokens.Length; id++)
            {
                if (types[id] is not (Control or UserDefined or Unused) && seen.Add(tokens[id]))
                {
                    json.WriteNumber(tokens[id], id);
                }
            }

            json.WriteEndObject();
            json.WriteStartArray("merges");
            for (int i = 0; i < merges.Length; i++)
            {
                int space = merges[i].IndexOf(' ', StringComparison.Ordinal);
                if (space <= 0 || space == merges[i].Length - 1 || merges[i].IndexOf(' ', space + 1) >= 0)
                {
                    throw new InvalidDataException($"{path}: tokenizer.ggml.merges[{i}] is \"{merges[i]}\", not two tokens separated by a space.");
                }

                json.WriteStartArray();
                json.WriteStringValue(merges[i].AsSpan(0, space));
                json.WriteStringValue(merges[i].AsSpan(space + 1));
                json.WriteEndArray();
            }

            json.WriteEndArray();
            json.WriteEndObject();
            json.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private static void WritePreTokenizer(Utf8JsonWriter json, bool llama3)
    {
        json.WriteStartObject("pre_tokenizer");
        if (llama3)
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
            WriteByteLevel(json, useRegex: false);
            json.WriteEndObject();
            json.WriteEndArray();
        }
        else
        {
            WriteByteLevel(json, useRegex: true);
        }

        json.WriteEndObject();
    }

    private static void WriteByteLevel(Utf8JsonWriter json, bool useRegex)
    {
        json.WriteString("type", "ByteLevel");
        json.WriteBoolean("add_prefix_space", false);
        json.WriteBoolean("trim_offsets", true);
        json.WriteBoolean("use_regex", useRegex);
    }
}
