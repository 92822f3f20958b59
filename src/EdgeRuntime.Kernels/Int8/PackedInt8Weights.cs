using System.Runtime.InteropServices;

namespace EdgeRuntime.Kernels.Int8;

/// <summary>
/// A constant 8-bit B [K, N] repacked once (when the session creates the kernel) for the GEMV kernels: tiles of
/// 16 columns, and within a tile, for every group of four rows k..k+3, each column's four values side by side
/// (64 bytes per group: a cache line). Values are stored as signed b' = b − <see cref="Offset"/> (128 for uint8 B), so
/// every kernel multiplies an unsigned or signed activation quad with a signed weight quad (pmaddubsw, SDOT). Column
/// sums of b' are kept for the zero-point terms. K is padded with zero rows, N with zero columns. Native memory,
/// freed by <see cref="Dispose"/>.
/// </summary>
public sealed unsafe class PackedInt8Weights : IDisposable
{
    public const int TileColumns = 16;

    private PackedInt8Weights(int k, int n, bool signed)
    {
        K = k;
        N = n;
        Signed = signed;
        Offset = signed ? 0 : 128;
        KQuads = (k + 3) / 4;
        Tiles = (n + TileColumns - 1) / TileColumns;
        Data = (sbyte*)NativeMemory.AlignedAlloc((nuint)Math.Max(64L, (long)Tiles * KQuads * 64), 64);
        ColumnSums = (int*)NativeMemory.AllocZeroed((nuint)(Tiles * TileColumns), sizeof(int));
    }

    public int K { get; }

    public int N { get; }

    public bool Signed { get; }

    public int Offset { get; }

    public int KQuads { get; }

    public int Tiles { get; }

    public sbyte* Data { get; private set; }

    public int* ColumnSums { get; private set; }

    public static PackedInt8Weights Pack(ReadOnlySpan<byte> b, int k, int n, bool signed)
    {
        if (b.Length != (long)k * n)
        {
            throw new ArgumentException($"B has {b.Length} values; expected {k}x{n}.");
        }

        var packed = new PackedInt8Weights(k, n, signed);
        var data = new Span<sbyte>(packed.Data, Math.Max(64, packed.Tiles * packed.KQuads * 64));
        for (int tile = 0; tile < packed.Tiles; tile++)
        {
            for (int quad = 0; quad < packed.KQuads; quad++)
            {
                var group = data.Slice(((tile * packed.KQuads) + quad) * 64, 64);
                for (int c = 0; c < TileColumns; c++)
                {
                    int column = (tile * TileColumns) + c;
                    for (int i = 0; i < 4; i++)
                    {
                        int row = (quad * 4) + i;
                        int value = row < k && column < n ? (signed ? (sbyte)b[(row * n) + column] : b[(row * n) + column] - 128) : 0;
                        group[(c * 4) + i] = (sbyte)value;
                        if (column < n)
                        {
                            packed.ColumnSums[column] += value;
                        }
                    }
                }
            }
        }

        return packed;
    }

    public void Dispose()
    {
        if (Data != null)
        {
            NativeMemory.AlignedFree(Data);
            NativeMemory.Free(ColumnSums);
            Data = null;
            ColumnSums = null;
        }
    }
}
