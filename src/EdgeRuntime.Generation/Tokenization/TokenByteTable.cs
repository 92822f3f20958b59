using System.Text;

namespace EdgeRuntime.Generation.Tokenization;

/// <summary>
/// The bytes each token id stands for, in one flat array (a byte[] per token would be 128k small objects for
/// Llama 3): vocabulary tokens give the bytes their byte-level spelling encodes, added tokens their UTF-8 text.
/// Ids no token has (gaps, or past the table) stand for no bytes.
/// </summary>
internal sealed class TokenByteTable
{
    private readonly byte[] _bytes;

    // _starts[id]..._starts[id + 1] is the token's range in _bytes.
    private readonly int[] _starts;

    public TokenByteTable(IReadOnlyDictionary<string, int> vocabulary, IReadOnlyList<AddedToken> added, int size)
    {
        // Added tokens win where an id is in both (GPT-2 lists <|endoftext|> in each, with the same text).
        var texts = new byte[]?[size];
        foreach ((string spelling, int id) in vocabulary)
        {
            texts[id] = Unspell(spelling);
        }

        foreach (AddedToken token in added)
        {
            texts[token.Id] = Encoding.UTF8.GetBytes(token.Content);
        }

        _starts = new int[size + 1];
        long total = 0;
        for (int id = 0; id < size; id++)
        {
            _starts[id] = (int)total;
            total += texts[id]?.Length ?? 0;
        }

        _starts[size] = (int)total;
        _bytes = new byte[total];
        for (int id = 0; id < size; id++)
        {
            texts[id]?.CopyTo(_bytes, _starts[id]);
        }
    }

    public int Count => _starts.Length - 1;

    public ReadOnlySpan<byte> this[int id] =>
        (uint)id < (uint)Count ? _bytes.AsSpan(_starts[id], _starts[id + 1] - _starts[id]) : [];

    /// <summary>
    /// The bytes a vocabulary entry spells. A character outside the byte-level alphabet stands for its own UTF-8
    /// bytes, as HF's ByteLevel decoder treats it.
    /// </summary>
    private static byte[] Unspell(string spelling)
    {
        var direct = new byte[spelling.Length];
        int i = 0;
        while (i < spelling.Length && ByteLevelAlphabet.TryByteOf(spelling[i], out direct[i]))
        {
            i++;
        }

        return i == spelling.Length ? direct : UnspellMixed(spelling);
    }

    private static byte[] UnspellMixed(string spelling)
    {
        var bytes = new List<byte>(spelling.Length);
        Span<byte> utf8 = stackalloc byte[4];
        for (int i = 0; i < spelling.Length; i++)
        {
            if (ByteLevelAlphabet.TryByteOf(spelling[i], out byte value))
            {
                bytes.Add(value);
                continue;
            }

            int length = char.IsHighSurrogate(spelling[i]) && i + 1 < spelling.Length && char.IsLowSurrogate(spelling[i + 1]) ? 2 : 1;
            int written = Encoding.UTF8.GetBytes(spelling.AsSpan(i, length), utf8);
            for (int k = 0; k < written; k++)
            {
                bytes.Add(utf8[k]);
            }

            i += length - 1;
        }

        return [.. bytes];
    }
}
