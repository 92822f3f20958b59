namespace EdgeRuntime.Kernels.LowBit;

/// <summary>
/// The weight layout of ONNX Runtime's com.microsoft MatMulNBits, which our fallback follows byte for byte:
/// B is uint8 [N, KBlocks, BlobBytes]; row n's block b holds weights k = b·BlockSize .. +BlockSize-1 of output n,
/// <see cref="ValuesPerByte"/> to a byte, the lowest bits first (4-bit: element 2i in the low nibble of byte i).
/// scales is float [N, KBlocks]. zero_points, when present, is uint8 [N, <see cref="ZeroPointRowBytes"/>] packed the
/// same way (block b's zero point in bits (b·Bits) mod 8 of byte b·Bits/8); when absent every zero point is
/// 2^(Bits-1). A weight is (code − zero point) · scale. K is padded with zero codes up to a whole block.
/// </summary>
public readonly record struct NBitsShape(int N, int K, int Bits, int BlockSize)
{
    public int KBlocks => BlockSize == 0 ? 0 : (K + BlockSize - 1) / BlockSize;

    public int BlobBytes => BlockSize * Bits / 8;

    public int RowBytes => KBlocks * BlobBytes;

    public int ZeroPointRowBytes => ((KBlocks * Bits) + 7) / 8;

    public int PaddedK => KBlocks * BlockSize;

    public int ValuesPerByte => 8 / Bits;

    public int CodeMask => (1 << Bits) - 1;

    public int DefaultZeroPoint => 1 << (Bits - 1);

    /// <summary>Throws with the offending value named when the shape is not one the kernels handle.</summary>
    public void Validate()
    {
        if (Bits is not (2 or 4))
        {
            throw new ArgumentException($"MatMulNBits bits is {Bits}; the fallback handles 2 and 4.");
        }

        if (BlockSize is < 16 or > 256 || (BlockSize & (BlockSize - 1)) != 0)
        {
            throw new ArgumentException($"MatMulNBits block_size is {BlockSize}; it must be a power of two from 16 to 256.");
        }

        if (N < 0 || K < 0)
        {
            throw new ArgumentException($"MatMulNBits sizes must not be negative (N={N}, K={K}).");
        }
    }

    /// <summary>The code of weight k in a packed row.</summary>
    public int Code(ReadOnlySpan<byte> row, int k)
    {
        int block = k / BlockSize;
        int inBlock = k - (block * BlockSize);
        int perByte = ValuesPerByte;
        return (row[(block * BlobBytes) + (inBlock / perByte)] >> ((inBlock % perByte) * Bits)) & CodeMask;
    }

    /// <summary>Block b's zero point from a packed zero-point row, or the default when there is none.</summary>
    public int ZeroPoint(ReadOnlySpan<byte> zeroPointRow, int block)
    {
        if (zeroPointRow.IsEmpty)
        {
            return DefaultZeroPoint;
        }

        int bit = block * Bits;
        return (zeroPointRow[bit / 8] >> (bit % 8)) & CodeMask;
    }
}

/// <summary>How activations meet the weights: MatMulNBits' accuracy_level 4 selects int8 activations.</summary>
public enum NBitsAccuracy
{
    /// <summary>Weights dequantized to float and multiplied with the float activations (accuracy_level 0–3).</summary>
    Float,

    /// <summary>
    /// Activations quantized per block to int8 (absmax, s = max|x|/127), integer block dots, float sum over blocks
    /// (accuracy_level 4). The integer part is exact, so every path gives the same bits.
    /// </summary>
    Int8,
}
