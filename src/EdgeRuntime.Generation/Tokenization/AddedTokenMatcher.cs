using System.Buffers;

namespace EdgeRuntime.Generation.Tokenization;

/// <summary>
/// Finds added tokens (<c>&lt;|eot_id|&gt;</c>, ...) written in text, leftmost first and the longest where two
/// start at the same place, as HF does before pre-tokenization: the text of a special token is that token, not
/// the BPE of its characters.
/// </summary>
internal sealed class AddedTokenMatcher
{
    private readonly SearchValues<char> _firstChars;

    // Candidates by first character, longest first, so the first that matches is the longest.
    private readonly Dictionary<char, AddedToken[]> _byFirstChar;

    public AddedTokenMatcher(IEnumerable<AddedToken> tokens)
    {
        _byFirstChar = tokens
            .GroupBy(t => t.Content[0])
            .ToDictionary(g => g.Key, g => g.OrderByDescending(t => t.Content.Length).ToArray());
        _firstChars = SearchValues.Create([.. _byFirstChar.Keys]);
    }

    /// <summary>The first added token in <paramref name="text"/>: where it starts and which it is.</summary>
    public bool TryFindFirst(ReadOnlySpan<char> text, out int index, out AddedToken? token)
    {
        int position = 0;
        while (position < text.Length)
        {
            int found = text[position..].IndexOfAny(_firstChars);
            if (found < 0)
            {
                break;
            }

            index = position + found;
            ReadOnlySpan<char> rest = text[index..];
            foreach (AddedToken candidate in _byFirstChar[text[index]])
            {
                if (rest.StartsWith(candidate.Content, StringComparison.Ordinal))
                {
                    token = candidate;
                    return true;
                }
            }

            position = index + 1;
        }

        index = -1;
        token = null;
        return false;
    }
}
