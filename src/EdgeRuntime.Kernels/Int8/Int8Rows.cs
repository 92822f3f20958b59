namespace EdgeRuntime.Kernels.Int8;

/// <summary>
/// A table stored as int8 rows with one float scale per row: row r is <c>codes[r, k] · scales[r]</c>, with
/// <c>scales[r] = max_k |table[r, k]| / 127</c> and <c>codes = clamp(round(table / scales[r]), -127, 127)</c> (round
/// half to even; an all-zero row has scale 0 and zero codes). A language model's token embedding, which is also its
/// tied output head, is stored this way: a quarter of the bytes of float32, so the head — read whole for every decoded
/// token — costs a quarter of the memory traffic, with a per-row error of at most half a step (max|row| / 254).
/// </summary>
public static class Int8Rows
{
    /// <summary>Quantizes <paramref name="rows"/> rows of <paramref name="columns"/> floats.</summary>
    public static void Quantize(ReadOnlySpan<float> table, int rows, int columns, Span<sbyte> codes, Span<float> scales)
    {
        if (table.Length != (long)rows * columns || codes.Length != table.Length || scales.Length != rows)
        {
            throw new ArgumentException($"Int8Rows.Quantize: {rows}x{columns} needs {(long)rows * columns} values and codes and {rows} scales; got {table.Length}, {codes.Length} and {scales.Length}.");
        }

        for (int r = 0; r < rows; r++)
        {
            var row = table.Slice(r * columns, columns);
            var target = codes.Slice(r * columns, columns);
            float max = 0;
            foreach (float v in row)
            {
                max = Math.Max(max, Math.Abs(v));
            }

            float scale = max / 127f;
            scales[r] = scale;
            if (scale == 0)
            {
                target.Clear();
                continue;
            }

            for (int k = 0; k < columns; k++)
            {
                target[k] = (sbyte)Math.Clamp(MathF.Round(row[k] / scale), -127f, 127f);
            }
        }
    }

    /// <summary>The float value row r stands for: codes · scale (what the embedding lookup produces).</summary>
    public static void Dequantize(ReadOnlySpan<sbyte> codes, float scale, Span<float> row)
    {
        for (int k = 0; k < codes.Length; k++)
        {
            row[k] = codes[k] * scale;
        }
    }
}
