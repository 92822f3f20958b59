using System.Globalization;

namespace EdgeRuntime.Formats;

/// <summary>
/// A recorded series in CSV: one row per line, comma-separated numbers, an optional first line naming the columns,
/// blank lines and <c>#</c> comments skipped. Values are row-major; <see cref="Channels"/> gives the row width.
/// </summary>
public sealed record CsvSeries(string[] Channels, float[] Values)
{
    public int Rows => Values.Length / Channels.Length;

    public static CsvSeries Read(string path)
    {
        string[]? channels = null;
        var values = new List<float>();
        int line = 0;
        foreach (string raw in File.ReadLines(path))
        {
            line++;
            string text = raw.Trim();
            if (text.Length == 0 || text.StartsWith('#'))
            {
                continue;
            }

            string[] cells = text.Split(',', StringSplitOptions.TrimEntries);
            if (channels is null && !float.TryParse(cells[0], NumberStyles.Float, CultureInfo.InvariantCulture, out _))
            {
                channels = cells;
                continue;
            }

            channels ??= [.. Enumerable.Range(0, cells.Length).Select(i => cells.Length == 1 ? "value" : $"c{i}")];
            if (cells.Length != channels.Length)
            {
                throw new InvalidDataException($"{path}:{line}: {cells.Length} values; the series has {channels.Length} channels.");
            }

            foreach (string cell in cells)
            {
                values.Add(float.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out float v)
                    ? v
                    : throw new InvalidDataException($"{path}:{line}: '{cell}' is not a number."));
            }
        }

        return channels is null || values.Count == 0
            ? throw new InvalidDataException($"{path} holds no rows.")
            : new CsvSeries(channels, [.. values]);
    }
}
