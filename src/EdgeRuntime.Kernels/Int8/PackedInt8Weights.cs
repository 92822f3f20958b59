using System.Runtime.InteropServices;

namespace EdgeRuntime.Kernels.Int8;

/// <summary>
/// A constant 8-bit B [K, N] repacked once (when the session creates the kernel) for the GEMV kernels: tiles of
/// 16 columns, and within a tile, for every group of four rows k..k+3, each column's four values side by side
/// (64 bytes per group: a cache line). Values are stored as signed b' = b − <see cref="Offset"/> (128 for uint8 B), so
/// every kernel multiplies an unsigned or signed activation quad with a signed weight quad (pmaddubsw, SDOT). Column
/// sums of b' are kept for the zero-point terms. K is padded with zero rows, N with zero columns.
/// The layout is also a file format: <c>edge-convert --to int8-packed</c> writes B this way (<see cref="PackInto"/>), and
/// <see cref="Borrow"/> then reads it where ONNX Runtime keeps the initializer, so the weights are held once. Packed
/// here, the data is native memory freed by <see cref="Dispose"/>; borrowed, only the column sums are ours.
/// </summary>
public sealed unsafe class PackedInt8Weights : IDisposable
{
    public const int TileColumns = 16;

    public const int GroupBytes = 64;

    private readonly bool _ownsData;

    private PackedInt8Weights(int k, int n, bool signed, sbyte* borrowed)
    {
        K = k;
        N = n;
        Signed = signed;
        Offset = signed ? 0 : 128;
        KQuads = QuadsFor(k);
        Tiles = TilesFor(n);
        _ownsData = borrowed == null;
        Data = _ownsData ? (sbyte*)NativeMemory.AlignedAlloc((nuint)Math.Max(GroupBytes, PackedBytes(k, n)), GroupBytes) : borrowed;
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

    /// <summary>Bytes of B [K, N] in the packed layout: [Tiles, KQuads, 64].</summary>
    public static long PackedBytes(int k, int n) => (long)TilesFor(n) * QuadsFor(k) * GroupBytes;

    /// <summary>The packed layout's shape as a tensor: [Tiles, KQuads, 64].</summary>
    public static long[] PackedShape(int k, int n) => [TilesFor(n), QuadsFor(k), GroupBytes];

    /// <summary>B [K, N] repacked into native memory owned by the result.</summary>
    public static PackedInt8Weights Pack(ReadOnlySpan<byte> b, int k, int n, bool signed)
    {
        var packed = new PackedInt8Weights(k, n, signed, borrowed: null);
        var data = new Span<sbyte>(packed.Data, checked((int)Math.Max(GroupBytes, PackedBytes(k, n))));
        PackInto(b, k, n, signed, data);
        packed.SumColumns();
        return packed;
    }

    /// <summary>Writes B [K, N] (row-major) in the packed layout into <paramref name="destination"/> (<see cref="PackedBytes"/> long).</summary>
    public static void PackInto(ReadOnlySpan<byte> b, int k, int n, bool signed, Span<sbyte> destination)
    {
        if (b.Length != (long)k * n)
        {
            throw new ArgumentException($"B has {b.Length} values; expected {k}x{n}.");
        }

        int tiles = TilesFor(n), quads = QuadsFor(k);
        if (destination.Length < PackedBytes(k, n))
        {
            throw new ArgumentException($"The destination holds {destination.Length} bytes; B [{k}, {n}] packed needs {PackedBytes(k, n)}.");
        }

        for (int tile = 0; tile < tiles; tile++)
        {
            for (int quad = 0; quad < quads; quad++)
            {
                var group = destination.Slice(((tile * quads) + quad) * GroupBytes, GroupBytes);
                for (int c = 0; c < TileColumns; c++)
                {
                    int column = (tile * TileColumns) + c;
                    for (int i = 0; i < 4; i++)
                    {
                        int row = (quad * 4) + i;
                        int value = row < k && column < n ? (signed ? (sbyte)b[(row * n) + column] : b[(row * n) + column] - 128) : 0;
                        group[(c * 4) + i] = (sbyte)value;
                    }
                }
            }
        }
    }

    /// <summary>
    /// B already in the packed layout (<see cref="PackInto"/>), read where it lies: <paramref name="data"/> must stay
    /// valid as long as the result (an ONNX Runtime initializer lives as long as its session). Only the column sums are
    /// computed; padding must be zero, as <see cref="PackInto"/> writes it, or the packed B was not made for [K, N].
    /// </summary>
    public static PackedInt8Weights Borrow(sbyte* data, long length, int k, int n, bool signed)
    {
        if (k <= 0 || n <= 0 || length != PackedBytes(k, n))
        {
            throw new ArgumentException($"A packed B for [K, N] = [{k}, {n}] holds {PackedBytes(k, n)} bytes; this one holds {length}.");
        }

        var packed = new PackedInt8Weights(k, n, signed, data);
        try
        {
            packed.SumColumns();
            packed.CheckPadding();
        }
        catch
        {
            packed.Dispose();
            throw;
        }

        return packed;
    }

    private static int TilesFor(int n) => (n + TileColumns - 1) / TileColumns;

    private static int QuadsFor(int k) => (k + 3) / 4;

    private void SumColumns()
    {
        for (int tile = 0; tile < Tiles; tile++)
        {
            var sums = new Span<int>(ColumnSums + (tile * TileColumns), TileColumns);
            for (int quad = 0; quad < KQuads; quad++)
            {
                var group = new ReadOnlySpan<sbyte>(Data + (((long)tile * KQuads) + quad) * GroupBytes, GroupBytes);
                for (int c = 0; c < TileColumns; c++)
                {
                    sums[c] += group[c * 4] + group[(c * 4) + 1] + group[(c * 4) + 2] + group[(c * 4) + 3];
                }
            }
        }
    }

    // Rows past K and columns past N must hold zeros: the kernels multiply them with zero-padded activations and
    // skip them in the output, but a nonzero pad means the bytes were packed for another shape.
    private void CheckPadding()
    {
        int lastQuad = KQuads - 1, usedInLastQuad = K - (lastQuad * 4);
        for (int tile = 0; tile < Tiles; tile++)
        {
            var lastGroup = new ReadOnlySpan<sbyte>(Data + (((long)tile * KQuads) + lastQuad) * GroupBytes, GroupBytes);
            for (int c = 0; c < TileColumns; c++)
            {
                for (int i = usedInLastQuad; i < 4; i++)
                {
                    if (lastGroup[(c * 4) + i] != 0)
                    {
                        throw new ArgumentException($"The packed B has a nonzero value in row {(lastQuad * 4) + i}, past K = {K}: it was packed for another shape.");
                    }
                }
            }
        }

        for (int column = N; column < Tiles * TileColumns; column++)
        {
            if (AnyInColumn(column))
            {
                throw new ArgumentException($"The packed B has a nonzero value in column {column}, past N = {N}: it was packed for another shape.");
            }
        }
    }

    private bool AnyInColumn(int column)
    {
        int tile = column / TileColumns, c = column % TileColumns;
        for (int quad = 0; quad < KQuads; quad++)
        {
            var group = Data + (((long)tile * KQuads) + quad) * GroupBytes + (c * 4);
            if (group[0] != 0 || group[1] != 0 || group[2] != 0 || group[3] != 0)
            {
                return true;
            }
        }

        return false;
    }

    public void Dispose()
    {
        if (Data != null)
        {
            if (_ownsData)
            {
                NativeMemory.AlignedFree(Data);
            }

            NativeMemory.Free(ColumnSums);
            Data = null;
            ColumnSums = null;
        }
    }
}
