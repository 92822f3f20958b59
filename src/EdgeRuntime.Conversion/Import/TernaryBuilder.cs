using EdgeRuntime.Generation.Families.BitNet;
using EdgeRuntime.Kernels.Ternary;

namespace EdgeRuntime.Conversion.Import;

/// <summary>
/// Builds a <see cref="TernaryMatrix"/> straight in <see cref="TernaryPacking"/>'s layout from the codes checkpoints
/// store (w + 1: 0, 1, 2, the same coding ours uses), one weight at a time in any order. Going through an unpacked
/// sbyte matrix and <see cref="TernaryPacking.Pack"/> costs several times more, and 2B4T has two billion weights.
/// </summary>
internal sealed class TernaryBuilder
{
    // Every code starts as 1 (weight 0), which is also what the padding past the last column must hold.
    private const byte Zeros = 0b01010101;

    private readonly byte[] _packed;
    private readonly int _rowBytes;

    public TernaryBuilder(int rows, int columns)
    {
        Rows = rows;
        Columns = columns;
        _rowBytes = TernaryPacking.RowBytes(columns);
        _packed = new byte[(long)rows * _rowBytes];
        _packed.AsSpan().Fill(Zeros);
    }

    public int Rows { get; }

    public int Columns { get; }

    /// <summary>Sets weight [row, column] to code − 1 (the caller has checked the code is 0, 1 or 2).</summary>
    public void Set(int row, int column, int code)
    {
        // Block of 256 weights → 64 bytes; within it, byte column % 64 holds weights 64j + b in bits 2j..2j+1.
        long index = ((long)row * _rowBytes) + (column / TernaryPacking.BlockWeights * TernaryPacking.BlockBytes) + (column % TernaryPacking.BlockBytes);
        int shift = 2 * ((column % TernaryPacking.BlockWeights) / TernaryPacking.BlockBytes);
        _packed[index] = (byte)((_packed[index] & ~(3 << shift)) | (code << shift));
    }

    public TernaryMatrix Build(float beta) => new(Rows, Columns, _packed, beta);
}
