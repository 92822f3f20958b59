using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace EdgeRuntime.Kernels.Int8;

/// <summary>The pointers and sizes of one MatMulInteger evaluation; column ranges can go to different threads.</summary>
public unsafe struct Int8Operands
{
    public KernelPath Path;
    public int M;
    public int K;
    public int N;

    /// <summary>The tokens minus their zero point as int16, m rows of <see cref="PairedK"/> (an even count, zero tail).</summary>
    public short* A;

    /// <summary>B as stored by ONNX, [K, N], int8 or uint8.</summary>
    public byte* B;
    public bool BSigned;

    /// <summary>B's zero point per column (the per-tensor value repeated), as int16.</summary>
    public short* BZeroPoints;
    public int* Y;

    public readonly int PairedK => (K + 1) & ~1;
}

/// <summary>
/// 8-bit matrix multiplication with ONNX MatMulInteger semantics, the core of our MatMulInteger and QLinearMatMul
/// fallbacks. B stays in ONNX's [K, N] layout (no pre-packing), so the kernels walk a tile of columns down all K rows:
/// x64 takes two rows at a time, widens them to int16 minus the zero points, interleaves the pairs and multiplies them
/// with the token's two values in one pmaddwd (exact: |a−za|, |b−zb| ≤ 255); arm64 multiplies-accumulates each row
/// into int32 with SMLAL. Integer all the way, so every path equals <see cref="Int8Reference"/> bit for bit.
/// </summary>
public static unsafe class Int8MatMul
{
    /// <summary>Columns per tile: a tile's accumulators stay in registers while it walks down K.</summary>
    public static int TileColumns(KernelPath path) => path switch
    {
        KernelPath.Vector512 => 64,
        KernelPath.Vector256 => 32,
        KernelPath.Vector128 or KernelPath.AdvSimd => 16,
        _ => 1,
    };

    /// <summary>Writes a − a_zp as int16 (m rows of PairedK) from 8-bit tokens.</summary>
    public static void PrepareA(ReadOnlySpan<byte> a, bool signed, int m, int k, ReadOnlySpan<int> zeroPoints, Span<short> prepared)
    {
        int paired = (k + 1) & ~1;
        for (int t = 0; t < m; t++)
        {
            int za = zeroPoints.Length == 1 ? zeroPoints[0] : zeroPoints.IsEmpty ? 0 : zeroPoints[t];
            var row = prepared.Slice(t * paired, paired);
            for (int i = 0; i < k; i++)
            {
                byte v = a[(t * k) + i];
                row[i] = (short)((signed ? (sbyte)v : v) - za);
            }

            row[k..].Clear();
        }
    }

    /// <summary>Output columns [columnStart, columnEnd) for every token.</summary>
    public static void ComputeColumns(in Int8Operands o, int columnStart, int columnEnd)
    {
        int tile = TileColumns(o.Path);
        int column = columnStart;
        if (tile > 1)
        {
            for (; column + tile <= columnEnd; column += tile)
            {
                for (int t = 0; t < o.M; t++)
                {
                    short* a = o.A + ((long)t * o.PairedK);
                    int* y = o.Y + ((long)t * o.N) + column;
                    switch (o.Path)
                    {
                        case KernelPath.Vector512: Tile512(o, a, column, y); break;
                        case KernelPath.Vector256: Tile256(o, a, column, y); break;
                        case KernelPath.AdvSimd: TileNeon(o, a, column, y); break;
                        default: Tile128(o, a, column, y); break;
                    }
                }
            }
        }

        for (; column < columnEnd; column++)
        {
            for (int t = 0; t < o.M; t++)
            {
                o.Y[((long)t * o.N) + column] = Column(o, o.A + ((long)t * o.PairedK), column);
            }
        }
    }

    /// <summary>The whole MatMulInteger on one thread with pooled scratch (tests and tools).</summary>
    public static void MatMulInteger(KernelPath path, Int8Matrix a, int m, int k, Int8Matrix b, int n, ReadOnlySpan<int> aZeroPoints, ReadOnlySpan<int> bZeroPoints, Span<int> y)
    {
        if (a.Data.Length != m * k || b.Data.Length != k * n || y.Length != m * n)
        {
            throw new ArgumentException($"MatMulInteger sizes disagree: A has {a.Data.Length} values (expected {m}x{k}), B {b.Data.Length} ({k}x{n}), Y {y.Length} ({m}x{n}).");
        }

        int paired = (k + 1) & ~1;
        short[] prepared = ArrayPool<short>.Shared.Rent(Math.Max(1, m * paired));
        short[] zeroPoints = ArrayPool<short>.Shared.Rent(Math.Max(1, n));
        try
        {
            PrepareA(a.Data, a.Signed, m, k, aZeroPoints, prepared);
            ExpandZeroPoints(bZeroPoints, n, zeroPoints);
            fixed (short* pa = prepared)
            fixed (byte* pb = b.Data)
            fixed (short* zb = zeroPoints)
            fixed (int* py = y)
            {
                var operands = new Int8Operands { Path = path, M = m, K = k, N = n, A = pa, B = pb, BSigned = b.Signed, BZeroPoints = zb, Y = py };
                ComputeColumns(operands, 0, n);
            }
        }
        finally
        {
            ArrayPool<short>.Shared.Return(prepared);
            ArrayPool<short>.Shared.Return(zeroPoints);
        }
    }

    /// <summary>B's zero points as one int16 per column: per tensor (one value, or none = 0) or per column.</summary>
    public static void ExpandZeroPoints(ReadOnlySpan<int> zeroPoints, int n, Span<short> expanded)
    {
        for (int col = 0; col < n; col++)
        {
            expanded[col] = (short)(zeroPoints.IsEmpty ? 0 : zeroPoints.Length == 1 ? zeroPoints[0] : zeroPoints[col]);
        }
    }

    private static int Column(in Int8Operands o, short* a, int column)
    {
        int zb = o.BZeroPoints[column];
        int acc = 0;
        byte* b = o.B + column;
        for (int i = 0; i < o.K; i++)
        {
            byte v = b[(long)i * o.N];
            acc += a[i] * ((o.BSigned ? (sbyte)v : v) - zb);
        }

        return acc;
    }

    // Two rows' 16 values widened to int16 minus the zero points, interleaved so pmaddwd pairs b[k,c] with b[k+1,c].
    private static void Tile256(in Int8Operands o, short* a, int column, int* y)
    {
        var zb0 = Vector256.Load(o.BZeroPoints + column);
        var zb1 = Vector256.Load(o.BZeroPoints + column + 16);
        Vector256<int> lo0 = default, hi0 = default, lo1 = default, hi1 = default;
        long n = o.N;
        byte* b = o.B + column;
        for (int i = 0; i < o.K; i += 2)
        {
            byte* r0 = b + (i * n);
            byte* r1 = i + 1 < o.K ? r0 + n : r0; // odd K: the last row pairs with itself against a zero activation
            var pair = Vector256.Create((int)((ushort)a[i] | ((uint)(ushort)a[i + 1] << 16))).AsInt16();
            var b00 = Widen256(r0, o.BSigned) - zb0;
            var b10 = Widen256(r1, o.BSigned) - zb0;
            var b01 = Widen256(r0 + 16, o.BSigned) - zb1;
            var b11 = Widen256(r1 + 16, o.BSigned) - zb1;
            lo0 += Avx2.MultiplyAddAdjacent(Avx2.UnpackLow(b00, b10), pair);
            hi0 += Avx2.MultiplyAddAdjacent(Avx2.UnpackHigh(b00, b10), pair);
            lo1 += Avx2.MultiplyAddAdjacent(Avx2.UnpackLow(b01, b11), pair);
            hi1 += Avx2.MultiplyAddAdjacent(Avx2.UnpackHigh(b01, b11), pair);
        }

        // UnpackLow holds columns 0-3 and 8-11, UnpackHigh 4-7 and 12-15: put them back in order.
        Avx2.Permute2x128(lo0, hi0, 0x20).Store(y);
        Avx2.Permute2x128(lo0, hi0, 0x31).Store(y + 8);
        Avx2.Permute2x128(lo1, hi1, 0x20).Store(y + 16);
        Avx2.Permute2x128(lo1, hi1, 0x31).Store(y + 24);
    }

    private static void Tile512(in Int8Operands o, short* a, int column, int* y)
    {
        var zb0 = Vector512.Load(o.BZeroPoints + column);
        var zb1 = Vector512.Load(o.BZeroPoints + column + 32);
        Vector512<int> lo0 = default, hi0 = default, lo1 = default, hi1 = default;
        long n = o.N;
        byte* b = o.B + column;
        for (int i = 0; i < o.K; i += 2)
        {
            byte* r0 = b + (i * n);
            byte* r1 = i + 1 < o.K ? r0 + n : r0;
            var pair = Vector512.Create((int)((ushort)a[i] | ((uint)(ushort)a[i + 1] << 16))).AsInt16();
            var b00 = Widen512(r0, o.BSigned) - zb0;
            var b10 = Widen512(r1, o.BSigned) - zb0;
            var b01 = Widen512(r0 + 32, o.BSigned) - zb1;
            var b11 = Widen512(r1 + 32, o.BSigned) - zb1;
            lo0 += Avx512BW.MultiplyAddAdjacent(Avx512BW.UnpackLow(b00, b10), pair);
            hi0 += Avx512BW.MultiplyAddAdjacent(Avx512BW.UnpackHigh(b00, b10), pair);
            lo1 += Avx512BW.MultiplyAddAdjacent(Avx512BW.UnpackLow(b01, b11), pair);
            hi1 += Avx512BW.MultiplyAddAdjacent(Avx512BW.UnpackHigh(b01, b11), pair);
        }

        Interleave128(lo0, hi0, y);
        Interleave128(lo1, hi1, y + 32);
    }

    private static void Tile128(in Int8Operands o, short* a, int column, int* y)
    {
        var zb0 = Vector128.Load(o.BZeroPoints + column);
        var zb1 = Vector128.Load(o.BZeroPoints + column + 8);
        Vector128<int> lo0 = default, hi0 = default, lo1 = default, hi1 = default;
        long n = o.N;
        byte* b = o.B + column;
        for (int i = 0; i < o.K; i += 2)
        {
            byte* r0 = b + (i * n);
            byte* r1 = i + 1 < o.K ? r0 + n : r0;
            var pair = Vector128.Create((int)((ushort)a[i] | ((uint)(ushort)a[i + 1] << 16))).AsInt16();
            var (b00, b01) = Widen128(r0, o.BSigned);
            var (b10, b11) = Widen128(r1, o.BSigned);
            b00 -= zb0;
            b10 -= zb0;
            b01 -= zb1;
            b11 -= zb1;
            lo0 += Sse2.MultiplyAddAdjacent(Sse2.UnpackLow(b00, b10), pair);
            hi0 += Sse2.MultiplyAddAdjacent(Sse2.UnpackHigh(b00, b10), pair);
            lo1 += Sse2.MultiplyAddAdjacent(Sse2.UnpackLow(b01, b11), pair);
            hi1 += Sse2.MultiplyAddAdjacent(Sse2.UnpackHigh(b01, b11), pair);
        }

        lo0.Store(y);
        hi0.Store(y + 4);
        lo1.Store(y + 8);
        hi1.Store(y + 12);
    }

    // One row at a time: SMLAL multiplies eight int16 values by one activation and adds into int32 lanes.
    private static void TileNeon(in Int8Operands o, short* a, int column, int* y)
    {
        var zb0 = AdvSimd.LoadVector128(o.BZeroPoints + column);
        var zb1 = AdvSimd.LoadVector128(o.BZeroPoints + column + 8);
        Vector128<int> c0 = default, c1 = default, c2 = default, c3 = default;
        long n = o.N;
        byte* b = o.B + column;
        for (int i = 0; i < o.K; i++)
        {
            var bytes = AdvSimd.LoadVector128(b + (i * n));
            Vector128<short> v0, v1;
            if (o.BSigned)
            {
                v0 = AdvSimd.SignExtendWideningLower(bytes.AsSByte().GetLower());
                v1 = AdvSimd.SignExtendWideningUpper(bytes.AsSByte());
            }
            else
            {
                v0 = AdvSimd.ZeroExtendWideningLower(bytes.GetLower()).AsInt16();
                v1 = AdvSimd.ZeroExtendWideningUpper(bytes).AsInt16();
            }

            v0 -= zb0;
            v1 -= zb1;
            var x = Vector64.Create(a[i]);
            c0 = AdvSimd.MultiplyWideningLowerAndAdd(c0, v0.GetLower(), x);
            c1 = AdvSimd.MultiplyWideningUpperAndAdd(c1, v0, Vector128.Create(a[i]));
            c2 = AdvSimd.MultiplyWideningLowerAndAdd(c2, v1.GetLower(), x);
            c3 = AdvSimd.MultiplyWideningUpperAndAdd(c3, v1, Vector128.Create(a[i]));
        }

        c0.Store(y);
        c1.Store(y + 4);
        c2.Store(y + 8);
        c3.Store(y + 12);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> Widen256(byte* p, bool signed) =>
        signed ? Avx2.ConvertToVector256Int16((sbyte*)p) : Avx2.ConvertToVector256Int16(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<short> Widen512(byte* p, bool signed) =>
        signed ? Avx512BW.ConvertToVector512Int16(Avx.LoadVector256((sbyte*)p)) : Avx512BW.ConvertToVector512Int16(Avx.LoadVector256(p));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector128<short> Low, Vector128<short> High) Widen128(byte* p, bool signed)
    {
        var bytes = Vector128.Load(p);
        if (signed)
        {
            var (low, high) = Vector128.Widen(bytes.AsSByte());
            return (low, high);
        }

        var (ulow, uhigh) = Vector128.Widen(bytes);
        return (ulow.AsInt16(), uhigh.AsInt16());
    }

    // 512-bit unpacks work per 128-bit lane: lo holds columns 8L..8L+3 of lane L, hi 8L+4..8L+7.
    private static void Interleave128(Vector512<int> lo, Vector512<int> hi, int* y)
    {
        for (int lane = 0; lane < 4; lane++)
        {
            lo.GetElement128(lane).Store(y + (8 * lane));
            hi.GetElement128(lane).Store(y + (8 * lane) + 4);
        }
    }
}

file static class Vector512Lanes
{
    public static Vector128<int> GetElement128(this Vector512<int> v, int lane) => lane switch
    {
        0 => v.GetLower().GetLower(),
        1 => v.GetLower().GetUpper(),
        2 => v.GetUpper().GetLower(),
        _ => v.GetUpper().GetUpper(),
    };
}
