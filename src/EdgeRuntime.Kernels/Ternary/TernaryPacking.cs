namespace EdgeRuntime.Kernels.Ternary;

/// <summary>
/// The packed layout of BitLinear weights: 2 bits per ternary weight, laid out so 64 bytes unpack, with three shifts
/// and four masks, into four runs of 64 consecutive weights that line up with contiguous activations.
/// <para>
/// A row of K weights is split into blocks of 256 (the last one padded with zero weights); a block is 64 bytes.
/// In block g, byte b holds weights 256g + 64j + b (j = 0..3) in bits 2j..2j+1, each as the code w + 1:
/// 0 for -1, 1 for 0, 2 for +1 (3 is never written). A row is <see cref="RowBytes"/> bytes; rows follow each other.
/// </para>
/// </summary>
public static class TernaryPacking
{
    public const int BlockWeights = 256;
    public const int BlockBytes = 64;

    public static int PaddedK(int k) => (k + BlockWeights - 1) / BlockWeights * BlockWeights;

    public static int RowBytes(int k) => PaddedK(k) / 4;

    /// <summary>Packs ternary weights (row-major [n, k], each -1, 0 or +1).</summary>
    public static byte[] Pack(ReadOnlySpan<sbyte> weights, int n, int k)
    {
        if (weights.Length != (long)n * k)
        {
            throw new ArgumentException($"Expected {n}x{k} weights, got {weights.Length}.", nameof(weights));
        }

        int rowBytes = RowBytes(k);
        var packed = new byte[(long)n * rowBytes];
        for (int row = 0; row < n; row++)
        {
            var source = weights.Slice(row * k, k);
            var target = packed.AsSpan(row * rowBytes, rowBytes);
            for (int i = 0; i < rowBytes * 4; i++)
            {
                int w = i < k ? source[i] : 0;
                if (w is < -1 or > 1)
                {
                    throw new ArgumentException($"Weight [{row},{i}] is {w}; ternary weights are -1, 0 or +1.", nameof(weights));
                }

                (int block, int within) = Math.DivRem(i, BlockWeights);
                (int j, int b) = Math.DivRem(within, BlockBytes);
                target[(block * BlockBytes) + b] |= (byte)((w + 1) << (2 * j));
            }
        }

        return packed;
    }

    /// <summary>
    /// One packed row back to weights (code − 1), padding included: <paramref name="weights"/> holds PaddedK values. A code
    /// of 3, which <see cref="Pack"/> never writes, comes back as 2 for the caller to refuse.
    /// </summary>
    public static void UnpackRow(ReadOnlySpan<byte> row, Span<sbyte> weights)
    {
        for (int i = 0; i < row.Length; i++)
        {
            (int block, int b) = Math.DivRem(i, BlockBytes);
            int p = row[i];
            for (int j = 0; j < 4; j++)
            {
                weights[(block * BlockWeights) + (j * BlockBytes) + b] = (sbyte)(((p >> (2 * j)) & 3) - 1);
            }
        }
    }

    /// <summary>The weight at [row, i] of a packed matrix (for tests and tools).</summary>
    public static int WeightAt(ReadOnlySpan<byte> packed, int k, int row, int i)
    {
        (int block, int within) = Math.DivRem(i, BlockWeights);
        (int j, int b) = Math.DivRem(within, BlockBytes);
        return ((packed[(row * RowBytes(k)) + (block * BlockBytes) + b] >> (2 * j)) & 3) - 1;
    }
}
