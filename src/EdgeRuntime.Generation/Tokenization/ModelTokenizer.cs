using System.Buffers;
using System.Collections.Frozen;
using System.Text;
using System.Text.RegularExpressions;
using EdgeRuntime.Protocol;
using Microsoft.ML.Tokenizers;

namespace EdgeRuntime.Generation.Tokenization;

/// <summary>
/// A language model's tokenizer, read from its Hugging Face tokenizer.json: byte-level BPE as GPT-2, Llama 3
/// (BitNet b1.58 2B4T) and LFM2 ship it. Added tokens are cut out of the text first, the rest is split with the
/// file's own pre-tokenizer patterns (<see cref="PieceSplitter"/>), and each piece is merged by
/// Microsoft.ML.Tokenizers' <see cref="BpeTokenizer"/> in byte-level mode. Safe to use from several threads.
/// </summary>
public sealed class ModelTokenizer
{
    // Pieces this long or shorter are spelled on the stack for the ignore_merges lookup.
    private const int StackSpellingLimit = 256;

    private readonly BpeTokenizer _bpe;
    private readonly IReadOnlyList<Regex> _splits;
    private readonly AddedTokenMatcher _added;
    private readonly FrozenDictionary<string, int> _addedIds;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>>? _wholePieces;
    private readonly TokenByteTable _bytes;
    private readonly FrozenSet<int> _specialIds;

    private ModelTokenizer(TokenizerDefinition definition, BpeTokenizer bpe, int vocabularySize)
    {
        _bpe = bpe;
        _splits = definition.SplitPatterns;
        _added = new AddedTokenMatcher(definition.AddedTokens);
        _addedIds = definition.AddedTokens
            .GroupBy(t => t.Content, StringComparer.Ordinal)
            .ToFrozenDictionary(g => g.Key, g => g.Last().Id, StringComparer.Ordinal);
        _wholePieces = definition.IgnoreMerges ? definition.Vocabulary.GetAlternateLookup<ReadOnlySpan<char>>() : null;
        _bytes = new TokenByteTable(definition.Vocabulary, definition.AddedTokens, vocabularySize);
        _specialIds = definition.AddedTokens.Where(t => t.Special).Select(t => t.Id).ToFrozenSet();
        VocabularySize = vocabularySize;
    }

    /// <summary>One past the highest token id of the vocabulary and the added tokens.</summary>
    public int VocabularySize { get; }

    /// <summary>The ids of the added tokens marked special (control tokens such as &lt;|eot_id|&gt;).</summary>
    public IReadOnlySet<int> SpecialIds => _specialIds;

    /// <summary>
    /// Reads <paramref name="tokenizerJsonPath"/>. <paramref name="expectedVocabularySize"/> is the number of rows
    /// of the model's embedding (config.json's vocabSize): a tokenizer with an id past it is refused, a smaller one
    /// is fine (models pad their vocabulary).
    /// </summary>
    /// <exception cref="EdgeRuntimeException">
    /// <see cref="ErrorCodes.ModelNotFound"/> when the file does not exist; <see cref="ErrorCodes.ModelInvalid"/>
    /// when it is not a byte-level BPE tokenizer.json or does not fit the model.
    /// </exception>
    public static ModelTokenizer Load(string tokenizerJsonPath, int expectedVocabularySize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(expectedVocabularySize);
        if (!File.Exists(tokenizerJsonPath))
        {
            throw new EdgeRuntimeException(ErrorCodes.ModelNotFound, $"Tokenizer file {tokenizerJsonPath} does not exist.");
        }

        TokenizerDefinition definition = TokenizerJson.Read(tokenizerJsonPath);
        int size = Math.Max(definition.Vocabulary.Values.Max(), definition.AddedTokens.Count == 0 ? -1 : definition.AddedTokens.Max(t => t.Id)) + 1;
        if (size > expectedVocabularySize)
        {
            throw new EdgeRuntimeException(
                ErrorCodes.ModelInvalid,
                $"{tokenizerJsonPath} has {size} token ids but config.json's vocabSize is {expectedVocabularySize}: "
                + $"the model has no embedding for ids {expectedVocabularySize} to {size - 1}.");
        }

        CheckByteAlphabet(tokenizerJsonPath, definition.Vocabulary);
        return new ModelTokenizer(definition, CreateBpe(tokenizerJsonPath, definition), size);
    }

    /// <summary>
    /// The ids of <paramref name="text"/>, without a BOS or any other token added. Special-token text in it becomes
    /// that token, as with HF; templates rely on it.
    /// </summary>
    public IReadOnlyList<int> Encode(ReadOnlySpan<char> text)
    {
        var ids = new List<int>(text.Length / 3 + 4);
        Encode(text, ids);
        return ids;
    }

    /// <summary>Appends the ids of <paramref name="text"/> to <paramref name="ids"/>.</summary>
    public void Encode(ReadOnlySpan<char> text, List<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var sink = new PieceEncoder(this, ids);
        while (_added.TryFindFirst(text, out int index, out AddedToken? token))
        {
            PieceSplitter.Split(text[..index], _splits, ref sink);
            ids.Add(token!.Id);
            text = text[(index + token.Content.Length)..];
        }

        PieceSplitter.Split(text, _splits, ref sink);
    }

    /// <summary>The id of an added token (&lt;|eot_id|&gt;, &lt;|im_end|&gt;, ...), or null if there is none.</summary>
    public int? TokenId(string token) => _addedIds.TryGetValue(token, out int id) ? id : null;

    /// <summary>
    /// The raw bytes token <paramref name="id"/> stands for; a vocabulary token may hold part of a UTF-8
    /// character. An added token (special or not) gives the UTF-8 of its text, so that
    /// <see cref="Decode(ReadOnlySpan{int})"/> shows "&lt;|eot_id|&gt;" as HF's decode does;
    /// <see cref="TokenTextStream"/> leaves special ones out by default. An id no token has (a padded embedding
    /// row) gives no bytes.
    /// </summary>
    public byte[] TokenBytes(int id) => TokenSpan(id).ToArray();

    /// <summary>The text of <paramref name="ids"/>; bytes that are not valid UTF-8 become U+FFFD.</summary>
    public string Decode(ReadOnlySpan<int> ids) => Decode(ids, includeSpecial: true);

    /// <summary>The text of <paramref name="ids"/>, with or without the text of special tokens.</summary>
    public string Decode(ReadOnlySpan<int> ids, bool includeSpecial)
    {
        int length = 0;
        foreach (int id in ids)
        {
            length += Included(id, includeSpecial) ? TokenSpan(id).Length : 0;
        }

        byte[] buffer = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            int written = 0;
            foreach (int id in ids)
            {
                if (Included(id, includeSpecial))
                {
                    ReadOnlySpan<byte> bytes = TokenSpan(id);
                    bytes.CopyTo(buffer.AsSpan(written));
                    written += bytes.Length;
                }
            }

            return Encoding.UTF8.GetString(buffer, 0, written);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    internal ReadOnlySpan<byte> TokenSpan(int id)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(id);
        return _bytes[id];
    }

    private bool Included(int id, bool includeSpecial) => includeSpecial || !_specialIds.Contains(id);

    private void EncodePiece(ReadOnlySpan<char> piece, List<int> ids)
    {
        if (_wholePieces is { } whole && TryWholePiece(whole, piece, out int id))
        {
            ids.Add(id);
            return;
        }

        // The library turns the piece into UTF-8 and its byte-level spelling, then applies the merges.
        IReadOnlyList<int> merged = _bpe.EncodeToIds(piece, considerPreTokenization: false, considerNormalization: false);
        for (int i = 0; i < merged.Count; i++)
        {
            ids.Add(merged[i]);
        }
    }

    /// <summary>ignore_merges: a piece whose byte-level spelling is itself a token is that token.</summary>
    private static bool TryWholePiece(Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> whole, ReadOnlySpan<char> piece, out int id)
    {
        int byteCount = Encoding.UTF8.GetByteCount(piece);
        if (byteCount > StackSpellingLimit)
        {
            // No vocabulary token is that long; BPE it.
            id = 0;
            return false;
        }

        Span<byte> utf8 = stackalloc byte[StackSpellingLimit];
        Span<char> spelling = stackalloc char[StackSpellingLimit];
        int written = Encoding.UTF8.GetBytes(piece, utf8);
        ByteLevelAlphabet.Spell(utf8[..written], spelling);
        return whole.TryGetValue(spelling[..written], out id);
    }

    /// <summary>
    /// BPE without one of the 256 byte symbols would drop the bytes it cannot spell without a word: refuse such a
    /// vocabulary at load instead.
    /// </summary>
    private static void CheckByteAlphabet(string path, Dictionary<string, int> vocabulary)
    {
        var lookup = vocabulary.GetAlternateLookup<ReadOnlySpan<char>>();
        for (int b = 0; b < 256; b++)
        {
            char symbol = ByteLevelAlphabet.CharOf((byte)b);
            if (!lookup.ContainsKey(new ReadOnlySpan<char>(in symbol)))
            {
                throw TokenizerJson.Invalid(path, $"model.vocab has no token for byte 0x{b:X2} ('{symbol}'); a byte-level vocabulary holds all 256");
            }
        }
    }

    private static BpeTokenizer CreateBpe(string path, TokenizerDefinition definition)
    {
        var options = new BpeOptions(definition.Vocabulary)
        {
            Merges = definition.Merges,
            ByteLevel = true,
        };

        try
        {
            return BpeTokenizer.Create(options);
        }
        catch (InvalidOperationException e)
        {
            // The library names the merge whose tokens are not in the vocabulary.
            throw TokenizerJson.Invalid(path, $"has model.merges that do not fit model.vocab ({e.Message})");
        }
    }

    /// <summary>Hands each pre-tokenized piece to BPE, appending to the caller's list.</summary>
    private readonly struct PieceEncoder(ModelTokenizer tokenizer, List<int> ids) : IPieceSink
    {
        public void Piece(ReadOnlySpan<char> piece) => tokenizer.EncodePiece(piece, ids);
    }
}
