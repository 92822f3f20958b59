using EdgeRuntime.Kernels.Int8;

namespace EdgeRuntime.Generation.Folder;

/// <summary>The ways a folder stores the token embedding (config.json's <c>embeddingFormat</c>).</summary>
public static class EmbeddingFormats
{
    /// <summary>The table as float32: exact, four bytes a weight.</summary>
    public const string Float32 = "float32";

    /// <summary>
    /// <see cref="Int8Rows"/>: one int8 a weight and a float scale a row. The tied head is read whole for every decoded
    /// token (in a 2B4T-sized model, 1.31 GB as float32 against 0.52 GB for all 30 layers' ternary weights), so this
    /// cuts a step's largest read by four, for a per-row error of at most max|row| / 254.
    /// </summary>
    public const string Int8 = "int8";

    public static IReadOnlyList<string> All { get; } = [Float32, Int8];

    /// <summary>The table as a model with <paramref name="format"/> computes with it (int8: the dequantized rows).</summary>
    public static float[] AsStored(string format, float[] table, int rows, int columns)
    {
        switch (format)
        {
            case Float32:
                return table;
            case Int8:
                var codes = new sbyte[table.LongLength];
                var scales = new float[rows];
                Int8Rows.Quantize(table, rows, columns, codes, scales);
                var stored = new float[table.LongLength];
                for (int r = 0; r < rows; r++)
                {
                    Int8Rows.Dequantize(codes.AsSpan(r * columns, columns), scales[r], stored.AsSpan(r * columns, columns));
                }

                return stored;
            default:
                throw new ArgumentException($"embeddingFormat is \"{format}\"; it must be one of {string.Join(", ", All)}.");
        }
    }
}
