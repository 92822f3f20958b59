namespace EdgeRuntime.Kernels.Ternary;

/// <summary>
/// The 1.6-bit layout of BitLinear weights: five ternary weights in one byte, as a base-3 number scaled to fill the
/// byte, so each weight comes out with byte multiplies and two compares and no division.
/// <para>
/// Encoding: the codes c = w + 1 (0, 1, 2) of five weights make v = 81·c₀ + 27·c₁ + 9·c₂ + 3·c₃ + c₄ (0..242), stored as
/// q = ⌈256·v / 243⌉. Decoding code j: m = q·3ʲ mod 256, then c_j = ⌊3·m / 256⌋ (0 below 86, 1 below 171, else 2).
/// q/256 is v/243 rounded up by less than 1/256; multiplying by 3ʲ shifts the base-3 digits left, and the error stays
/// under one third of a digit for the five digits a byte holds (<see cref="DecodeCode"/> is checked on all 243 values).
/// </para>
/// <para>
/// Layout: a row of K weights is split into blocks of 160 (the last padded with zero weights); a block is 32 bytes.
/// In block g, byte b holds weights 160g + 32j + b (j = 0..4) as digit j, so the 32 codes of digit j line up with 32
/// contiguous activations. A row is <see cref="RowBytes"/> bytes; rows follow each other. At K = 2560 a row is 512 bytes
/// against 640 in <see cref="TernaryPacking"/>.
/// </para>
/// </summary>
public static class TritPacking
{
    public const int BlockWeights = 160;
    public const int BlockBytes = 32;

    /// <summary>Weights per byte.</summary>
    public const int Digits = 5;

    // Code j of every byte value, for the scalar path and for tests: 256 × 5 codes (0, 1, 2).
    private static readonly byte[] s_codes = BuildCodes();

    public static int PaddedK(int k) => (k + BlockWeights - 1) / BlockWeights * BlockWeights;

    public static int RowBytes(int k) => PaddedK(k) / Digits;

    /// <summary>The byte holding five codes (each 0, 1 or 2), first code most significant.</summary>
    public static byte Encode(int c0, int c1, int c2, int c3, int c4) =>
        EncodeValue((81 * c0) + (27 * c1) + (9 * c2) + (3 * c3) + c4);

    // v/243 rounded up to a multiple of 1/256.
    private static byte EncodeValue(int v) => (byte)(((v * 256) + 242) / 243);

    /// <summary>Code j (0..4) of a packed byte: ⌊3·(q·3ʲ mod 256) / 256⌋. Any byte decodes to codes 0..2.</summary>
    public static int DecodeCode(byte q, int j)
    {
        int m = q;
        for (int i = 0; i < j; i++)
        {
            m = (m * 3) & 0xFF;
        }

        return (m * 3) >> 8;
    }

    /// <summary>The code of digit j of byte q from the precomputed table.</summary>
    internal static int Code(byte q, int j) => s_codes[(q * Digits) + j];

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
            int bad = source.IndexOfAnyExceptInRange((sbyte)-1, (sbyte)1);
            if (bad >= 0)
            {
                throw new ArgumentException($"Weight [{row},{bad}] is {source[bad]}; ternary weights are -1, 0 or +1.", nameof(weights));
            }

            PackRow(source, packed.AsSpan(row * rowBytes, rowBytes));
        }

        return packed;
    }

    /// <summary>
    /// Repacks a matrix from <see cref="TernaryPacking"/>'s 2-bit layout, a row at a time (an imported checkpoint's
    /// projections are hundreds of megabytes). A 2-bit code 3, which no valid matrix holds, is refused.
    /// </summary>
    public static byte[] FromTwoBit(ReadOnlySpan<byte> twoBit, int n, int k)
    {
        int twoBitRow = TernaryPacking.RowBytes(k);
        if (twoBit.Length != (long)n * twoBitRow)
        {
            throw new ArgumentException($"A 2-bit matrix of {n}x{k} takes {(long)n * twoBitRow} bytes, not {twoBit.Length}.", nameof(twoBit));
        }

        int rowBytes = RowBytes(k);
        var packed = new byte[(long)n * rowBytes];
        var weights = new sbyte[TernaryPacking.PaddedK(k)];
        for (int row = 0; row < n; row++)
        {
            TernaryPacking.UnpackRow(twoBit.Slice(row * twoBitRow, twoBitRow), weights);
            int bad = weights.AsSpan(0, k).IndexOfAnyExceptInRange((sbyte)-1, (sbyte)1);
            if (bad >= 0)
            {
                throw new ArgumentException($"Weight [{row},{bad}] has the 2-bit code 3, which is not a ternary weight.", nameof(twoBit));
            }

            PackRow(weights.AsSpan(0, k), packed.AsSpan(row * rowBytes, rowBytes));
        }

        return packed;
    }

    // One row of k checked weights into RowBytes(k) bytes; the padding holds zero weights.
    private static void PackRow(ReadOnlySpan<sbyte> source, Span<byte> target)
    {
        int k = source.Length;
        for (int i = 0; i < target.Length; i++)
        {
            (int block, int b) = Math.DivRem(i, BlockBytes);
            int index = (block * BlockWeights) + b;
            int v = 0;
            for (int j = 0; j < Digits; j++, index += BlockBytes)
            {
                v = (v * 3) + (index < k ? source[index] : 0) + 1;
            }

            target[i] = EncodeValue(v);
        }
    }

    /// <summary>The weight at [row, i] of a packed matrix (for tests and tools).</summary>
    public static int WeightAt(ReadOnlySpan<byte> packed, int k, int row, int i)
    {
        (int block, int within) = Math.DivRem(i, BlockWeights);
        (int j, int b) = Math.DivRem(within, BlockBytes);
        return Code(packed[(row * RowBytes(k)) + (block * BlockBytes) + b], j) - 1;
    }

    private static byte[] BuildCodes()
    {
        var codes = new byte[256 * Digits];
        for (int q = 0; q < 256; q++)
        {
            for (int j = 0; j < Digits; j++)
            {
                codes[(q * Digits) + j] = (byte)DecodeCode((byte)q, j);
            }
        }

        return codes;
    }
}
