namespace EdgeRuntime.Visuals;

/// <summary>
/// Puts horizontal extents (a bar with its label) into rows so that none overlap: the first row where one of the
/// candidate placements fits wins. Post-sensing work lasts a few milliseconds of a run of seconds, so its stages and
/// labels crowd into a few pixels; stacking them keeps every label readable.
/// </summary>
internal sealed class RowPacker(double minX, double maxX, double gap = 4)
{
    private readonly List<List<(double From, double To)>> _rows = [];

    public int Count => _rows.Count;

    /// <summary>Places the first candidate that fits, trying each row in turn; returns the row and the candidate.</summary>
    public (int Row, int Candidate) Place(IReadOnlyList<(double From, double To)> candidates)
    {
        for (int row = 0; ; row++)
        {
            for (int i = 0; i < candidates.Count; i++)
            {
                var (from, to) = candidates[i];
                if (from >= minX && to <= maxX && Fits(row, from, to))
                {
                    Take(row, from, to);
                    return (row, i);
                }
            }

            if (row >= _rows.Count)
            {
                // No candidate lies within the bounds: an empty row takes the first one as it is.
                Take(row, candidates[0].From, candidates[0].To);
                return (row, 0);
            }
        }
    }

    private bool Fits(int row, double from, double to) =>
        row >= _rows.Count || !_rows[row].Any(e => from < e.To + gap && e.From < to + gap);

    private void Take(int row, double from, double to)
    {
        while (_rows.Count <= row)
        {
            _rows.Add([]);
        }

        _rows[row].Add((from, to));
    }
}

/// <summary>Where a label goes: inside its bar when it fits, else beside it, in the first free row.</summary>
internal readonly record struct LabelPlace(int Row, double X, string Anchor, bool Inside)
{
    public static double TextWidth(string text, double fontSize) => text.Length * fontSize * 0.58;

    public static LabelPlace Choose(RowPacker packer, double x0, double x1, string text, double fontSize, bool outsideOnly = false, bool prefersLeft = false)
    {
        double w = TextWidth(text, fontSize);
        var candidates = new List<(double, double, double X, string Anchor, bool Inside)>();
        if (!outsideOnly && x1 - x0 >= w + 6)
        {
            candidates.Add((x0, x1, (x0 + x1) / 2, "middle", true));
        }

        // Beside a bar the label and the bar are one extent; beside a point (a marker line) only the text is.
        bool point = x1 - x0 < 0.5;
        var right = (point ? x1 + 3 : x0, x1 + 3 + w, x1 + 3, "start", false);
        var left = (x0 - 3 - w, point ? x0 - 3 : x1, x0 - 3, "end", false);
        candidates.Add(prefersLeft ? left : right);
        candidates.Add(prefersLeft ? right : left);
        var (row, chosen) = packer.Place([.. candidates.Select(c => (c.Item1, c.Item2))]);
        var pick = candidates[chosen];
        return new LabelPlace(row, pick.X, pick.Anchor, pick.Inside);
    }
}
