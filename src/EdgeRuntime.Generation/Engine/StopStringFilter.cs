namespace EdgeRuntime.Generation.Engine;

/// <summary>
/// Holds back generated text that might be the start of a stop string, so a stop string is never sent, not even in
/// part: text is released once no stop string can begin in it.
/// </summary>
internal sealed class StopStringFilter(IReadOnlyList<string> stops)
{
    private string _held = "";

    /// <summary>Adds a piece; returns what can be sent. <paramref name="stopped"/> is set when a stop string appeared.</summary>
    public string Append(string piece, out bool stopped)
    {
        stopped = false;
        if (stops.Count == 0)
        {
            return piece;
        }

        string text = _held + piece;
        int first = -1;
        foreach (string stop in stops)
        {
            int at = text.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (first < 0 || at < first))
            {
                first = at;
            }
        }

        if (first >= 0)
        {
            stopped = true;
            _held = "";
            return text[..first];
        }

        int keep = 0;
        foreach (string stop in stops)
        {
            for (int length = Math.Min(stop.Length - 1, text.Length); length > keep; length--)
            {
                if (text.AsSpan(text.Length - length).SequenceEqual(stop.AsSpan(0, length)))
                {
                    keep = length;
                    break;
                }
            }
        }

        _held = text[^keep..];
        return text[..^keep];
    }

    /// <summary>The generation ended for another reason: what was held is ordinary text after all.</summary>
    public string Flush()
    {
        string held = _held;
        _held = "";
        return held;
    }
}
