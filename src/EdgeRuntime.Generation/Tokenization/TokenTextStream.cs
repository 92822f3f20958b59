using System.Buffers;
using System.Text.Unicode;

namespace EdgeRuntime.Generation.Tokenization;

/// <summary>
/// Turns generated token ids into text as they come, for streaming. A byte-level token may end inside a UTF-8
/// character (an emoji's 4 bytes often span 2-4 tokens), so the stream works on the tokens' bytes and holds back an
/// incomplete tail until the token that completes it; it never re-decodes what it already sent. One stream per
/// generation; not for use from several threads at once.
/// </summary>
public sealed class TokenTextStream
{
    private readonly ModelTokenizer _tokenizer;
    private readonly bool _includeSpecial;

    // The bytes of an incomplete character, carried from one Append to the next; never more than 3.
    private byte[] _pending = new byte[64];
    private int _pendingLength;

    /// <param name="tokenizer">The model's tokenizer.</param>
    /// <param name="includeSpecial">Whether special tokens give their text (&lt;|eot_id|&gt;); by default they
    /// are control tokens and give nothing.</param>
    public TokenTextStream(ModelTokenizer tokenizer, bool includeSpecial = false)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        _tokenizer = tokenizer;
        _includeSpecial = includeSpecial;
    }

    /// <summary>
    /// Adds a token and returns the text it completes: "" while a character is still incomplete, then the whole
    /// character. Invalid bytes (which no later token could complete) come out as U+FFFD.
    /// </summary>
    public string Append(int tokenId)
    {
        if (!_includeSpecial && _tokenizer.SpecialIds.Contains(tokenId))
        {
            return "";
        }

        ReadOnlySpan<byte> bytes = _tokenizer.TokenSpan(tokenId);
        if (bytes.IsEmpty)
        {
            return "";
        }

        int needed = _pendingLength + bytes.Length;
        if (needed > _pending.Length)
        {
            Array.Resize(ref _pending, Math.Max(needed, _pending.Length * 2));
        }

        bytes.CopyTo(_pending.AsSpan(_pendingLength));
        _pendingLength = needed;
        return Drain(isFinalBlock: false);
    }

    /// <summary>The text still held back (an unfinished character, as U+FFFD); the stream is empty after it.</summary>
    public string Flush() => _pendingLength == 0 ? "" : Drain(isFinalBlock: true);

    private string Drain(bool isFinalBlock)
    {
        ReadOnlySpan<byte> pending = _pending.AsSpan(0, _pendingLength);

        // Never more UTF-16 units than bytes (plus one replacement per byte at worst, still one unit each).
        char[] chars = ArrayPool<char>.Shared.Rent(pending.Length);
        try
        {
            // Not final: the decoder stops before a tail that is a valid beginning of a character (NeedMoreData)
            // and replaces only what no further byte could make valid.
            Utf8.ToUtf16(pending, chars, out int read, out int written, replaceInvalidSequences: true, isFinalBlock);
            pending[read..].CopyTo(_pending);
            _pendingLength = pending.Length - read;
            return written == 0 ? "" : new string(chars, 0, written);
        }
        finally
        {
            ArrayPool<char>.Shared.Return(chars);
        }
    }
}
