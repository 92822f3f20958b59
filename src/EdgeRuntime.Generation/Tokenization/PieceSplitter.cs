using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace EdgeRuntime.Generation.Tokenization;

/// <summary>Receives the pieces <see cref="PieceSplitter"/> cuts text into.</summary>
internal interface IPieceSink
{
    void Piece(ReadOnlySpan<char> piece);
}

/// <summary>
/// Pre-tokenization: cuts text into the pieces BPE runs on, with the tokenizer's own regular expressions, the way
/// HF's Split (behavior Isolated) does: every match is a piece and so is the text between two matches, and each
/// pattern is applied to each piece of the one before.
/// </summary>
/// <remarks>
/// HF's regex engine matches code points; .NET's matches UTF-16 units, so a character beyond U+FFFF (emoji, some
/// CJK) would count as two and fail to be one '\p{L}' or one optional '[^\r\n\p{L}\p{N}]?' prefix: "😀abc" would
/// split in two where HF keeps one piece. Text holding such characters is matched through a shadow copy in which
/// each surrogate pair is one BMP character of the same Unicode category, and the pieces are mapped back.
/// </remarks>
internal static class PieceSplitter
{
    private static readonly char[] StandIns = BuildStandIns();

    public static void Split<TSink>(ReadOnlySpan<char> text, IReadOnlyList<Regex> patterns, ref TSink sink)
        where TSink : struct, IPieceSink, allows ref struct
    {
        if (text.IsEmpty)
        {
            return;
        }

        if (patterns.Count == 0)
        {
            sink.Piece(text);
            return;
        }

        if (text.IndexOfAnyInRange('\uD800', '\uDFFF') < 0)
        {
            SplitLevel(text, text, [], 0, text.Length, patterns, 0, ref sink);
            return;
        }

        char[] shadow = ArrayPool<char>.Shared.Rent(text.Length);
        int[] map = ArrayPool<int>.Shared.Rent(text.Length + 1);
        try
        {
            int length = BuildShadow(text, shadow, map);
            SplitLevel(text, shadow.AsSpan(0, length), map.AsSpan(0, length + 1), 0, length, patterns, 0, ref sink);
        }
        finally
        {
            ArrayPool<char>.Shared.Return(shadow);
            ArrayPool<int>.Shared.Return(map);
        }
    }

    private static void SplitLevel<TSink>(
        ReadOnlySpan<char> original, ReadOnlySpan<char> shadow, ReadOnlySpan<int> map, int start, int end,
        IReadOnlyList<Regex> patterns, int level, ref TSink sink)
        where TSink : struct, IPieceSink, allows ref struct
    {
        if (level == patterns.Count)
        {
            int from = map.IsEmpty ? start : map[start];
            int to = map.IsEmpty ? end : map[end];
            sink.Piece(original[from..to]);
            return;
        }

        int position = start;
        foreach (ValueMatch match in patterns[level].EnumerateMatches(shadow[start..end]))
        {
            if (match.Length == 0)
            {
                continue;
            }

            int matchStart = start + match.Index;
            if (matchStart > position)
            {
                SplitLevel(original, shadow, map, position, matchStart, patterns, level + 1, ref sink);
            }

            SplitLevel(original, shadow, map, matchStart, matchStart + match.Length, patterns, level + 1, ref sink);
            position = matchStart + match.Length;
        }

        if (position < end)
        {
            SplitLevel(original, shadow, map, position, end, patterns, level + 1, ref sink);
        }
    }

    /// <summary>Writes the shadow of <paramref name="text"/>; map[i] is where shadow index i starts in the text.</summary>
    private static int BuildShadow(ReadOnlySpan<char> text, Span<char> shadow, Span<int> map)
    {
        int length = 0;
        int i = 0;
        while (i < text.Length)
        {
            map[length] = i;
            if (Rune.DecodeFromUtf16(text[i..], out Rune rune, out int consumed) == OperationStatus.Done && consumed == 2)
            {
                shadow[length++] = StandIns[(int)CharUnicodeInfo.GetUnicodeCategory(rune.Value)];
            }
            else
            {
                // BMP characters, and lone surrogates, are matched as they are.
                shadow[length++] = text[i];
            }

            i += consumed == 0 ? 1 : consumed;
        }

        map[length] = text.Length;
        return length;
    }

    /// <summary>
    /// For each Unicode category, a BMP character of it above Latin-1, so that a stand-in never equals a literal an
    /// ASCII-minded pattern might name ('s' in "'s"). Categories without one fall back to a private-use character.
    /// </summary>
    private static char[] BuildStandIns()
    {
        var standIns = new char[(int)UnicodeCategory.OtherNotAssigned + 1];
        Array.Fill(standIns, '\uE000');
        var found = new bool[standIns.Length];
        for (int c = 0x100; c <= 0xFFFF; c++)
        {
            if (c is >= 0xD800 and <= 0xDFFF)
            {
                continue;
            }

            int category = (int)CharUnicodeInfo.GetUnicodeCategory((char)c);
            if (!found[category])
            {
                found[category] = true;
                standIns[category] = (char)c;
            }
        }

        return standIns;
    }
}
