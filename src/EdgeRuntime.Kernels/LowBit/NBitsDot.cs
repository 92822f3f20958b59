using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace EdgeRuntime.Kernels.LowBit;

/// <summary>
/// One block's inner product between packed codes and activations laid out plane by plane: the codes of a segment of
/// W bytes are read with one load, each bit plane (code j of every byte) is masked out, and the activations of that
/// segment are stored as planes too (position j·W + i holds element i·ValuesPerByte + j). Then each plane multiplies a
/// contiguous run of activations with no shuffles. The integer dots are exact: pmaddubsw sums at most four products
/// of 15·127 per 16-bit lane.
/// </summary>
internal static unsafe class NBitsDot
{
    /// <summary>The segment width a path uses for a block of <paramref name="blobBytes"/>; 0 means scalar.</summary>
    public static int SegmentBytes(KernelPath path, int blobBytes, NBitsAccuracy accuracy)
    {
        int width = path switch
        {
            KernelPath.Vector512 when accuracy == NBitsAccuracy.Int8 => 64,
            KernelPath.Vector256 or KernelPath.Vector512 when accuracy == NBitsAccuracy.Int8 => 32,
            KernelPath.Vector128 or KernelPath.Vector256 or KernelPath.Vector512 or KernelPath.AdvSimd => 16,
            _ => 0,
        };
        while (width >= 16 && blobBytes % width != 0)
        {
            width /= 2;
        }

        return width >= 16 ? width : 0;
    }

    /// <summary>Copies a token into plane order for segments of <paramref name="segment"/> bytes (identity for 0).</summary>
    public static void ToPlanes<T>(ReadOnlySpan<T> natural, Span<T> planes, int bits, int segment)
    {
        if (segment == 0)
        {
            natural.CopyTo(planes);
            return;
        }

        int perByte = 8 / bits;
        int perSegment = segment * perByte;
        for (int start = 0; start < natural.Length; start += perSegment)
        {
            for (int e = 0; e < perSegment; e++)
            {
                planes[start + ((e % perByte) * segment) + (e / perByte)] = natural[start + e];
            }
        }
    }

    /// <summary>Σ code·q over one block (integer, exact).</summary>
    public static int Int8Block(KernelPath path, int segment, byte* codes, sbyte* q, int blobBytes, int bits) => segment switch
    {
        64 => Int8Block512(codes, q, blobBytes, bits),
        32 => Int8Block256(codes, q, blobBytes, bits),
        16 when path == KernelPath.AdvSimd => Int8BlockNeon(codes, q, blobBytes, bits),
        16 => Int8Block128(codes, q, blobBytes, bits),
        _ => throw new ArgumentOutOfRangeException(nameof(segment)),
    };

    /// <summary>Σ (code − zp)·x over one block in float, 16-byte segments (plain Vector128: SSE on x64, NEON on arm64).</summary>
    public static float FloatBlock(byte* codes, float* x, int blobBytes, int bits, float zeroPoint)
    {
        var mask = Vector128.Create((byte)((1 << bits) - 1));
        var zp = Vector128.Create(zeroPoint);
        var acc0 = Vector128<float>.Zero;
        var acc1 = Vector128<float>.Zero;
        int perByte = 8 / bits;
        for (int offset = 0; offset < blobBytes; offset += 16)
        {
            var packed = Vector128.Load(codes + offset);
            float* segment = x + (offset * perByte);
            if (bits == 4)
            {
                FloatPlane(packed & mask, segment, zp, ref acc0, ref acc1);
                FloatPlane(Vector128.ShiftRightLogical(packed, 4) & mask, segment + 16, zp, ref acc0, ref acc1);
            }
            else
            {
                FloatPlane(packed & mask, segment, zp, ref acc0, ref acc1);
                FloatPlane(Vector128.ShiftRightLogical(packed, 2) & mask, segment + 16, zp, ref acc0, ref acc1);
                FloatPlane(Vector128.ShiftRightLogical(packed, 4) & mask, segment + 32, zp, ref acc0, ref acc1);
                FloatPlane(Vector128.ShiftRightLogical(packed, 6) & mask, segment + 48, zp, ref acc0, ref acc1);
            }
        }

        return Vector128.Sum(acc0 + acc1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void FloatPlane(Vector128<byte> codes, float* a, Vector128<float> zp, ref Vector128<float> acc0, ref Vector128<float> acc1)
    {
        var (low, high) = Vector128.Widen(codes);
        var (v0, v1) = Vector128.Widen(low);
        var (v2, v3) = Vector128.Widen(high);
        acc0 += (Vector128.ConvertToSingle(v0.AsInt32()) - zp) * Vector128.Load(a);
        acc1 += (Vector128.ConvertToSingle(v1.AsInt32()) - zp) * Vector128.Load(a + 4);
        acc0 += (Vector128.ConvertToSingle(v2.AsInt32()) - zp) * Vector128.Load(a + 8);
        acc1 += (Vector128.ConvertToSingle(v3.AsInt32()) - zp) * Vector128.Load(a + 12);
    }

    /// <summary>
    /// Σ code·q over one block for four consecutive rows at once (AVX2, 32-byte segments): the activations are loaded
    /// once for all four rows, 16-bit sums run over two segments before widening, and the four totals are reduced
    /// together. Exact, like the one-row form.
    /// </summary>
    public static Vector128<int> Int8Block4Rows256(byte* codes, long rowBytes, sbyte* q, int blobBytes, int bits, byte* prefetch)
    {
        PrefetchGroupShare(prefetch, blobBytes);

        var mask = Vector256.Create((byte)((1 << bits) - 1));
        var ones = Vector256.Create((short)1);
        Vector256<int> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int offset = 0; offset < blobBytes; offset += 64)
        {
            Vector256<short> s0 = default, s1 = default, s2 = default, s3 = default;
            int end = Math.Min(blobBytes, offset + 64);
            for (int segment = offset; segment < end; segment += 32)
            {
                byte* c = codes + segment;
                if (bits == 4)
                {
                    sbyte* x = q + (segment * 2);
                    var x0 = Avx.LoadVector256(x);
                    var x1 = Avx.LoadVector256(x + 32);
                    s0 += Nibbles(Avx.LoadVector256(c), mask, x0, x1);
                    s1 += Nibbles(Avx.LoadVector256(c + rowBytes), mask, x0, x1);
                    s2 += Nibbles(Avx.LoadVector256(c + (2 * rowBytes)), mask, x0, x1);
                    s3 += Nibbles(Avx.LoadVector256(c + (3 * rowBytes)), mask, x0, x1);
                }
                else
                {
                    sbyte* x = q + (segment * 4);
                    var x0 = Avx.LoadVector256(x);
                    var x1 = Avx.LoadVector256(x + 32);
                    var x2 = Avx.LoadVector256(x + 64);
                    var x3 = Avx.LoadVector256(x + 96);
                    s0 += Crumbs(Avx.LoadVector256(c), mask, x0, x1, x2, x3);
                    s1 += Crumbs(Avx.LoadVector256(c + rowBytes), mask, x0, x1, x2, x3);
                    s2 += Crumbs(Avx.LoadVector256(c + (2 * rowBytes)), mask, x0, x1, x2, x3);
                    s3 += Crumbs(Avx.LoadVector256(c + (3 * rowBytes)), mask, x0, x1, x2, x3);
                }
            }

            // Two segments of 16-bit sums: at most 2·(2·2·15·127) = 15240 (4-bit) or 2·(4·2·3·127) = 6096 (2-bit).
            a0 += Avx2.MultiplyAddAdjacent(s0, ones);
            a1 += Avx2.MultiplyAddAdjacent(s1, ones);
            a2 += Avx2.MultiplyAddAdjacent(s2, ones);
            a3 += Avx2.MultiplyAddAdjacent(s3, ones);
        }

        var h = Avx2.HorizontalAdd(Avx2.HorizontalAdd(a0, a1), Avx2.HorizontalAdd(a2, a3));
        return h.GetLower() + h.GetUpper();
    }

    /// <summary>
    /// <see cref="Int8Block4Rows256"/> with AVX-VNNI: <c>vpdpbusd</c> multiplies the unsigned codes by the signed
    /// activations and adds each group of four products straight into 32-bit lanes, where AVX2 needs pmaddubsw, a 16-bit
    /// add and a pmaddwd by ones. The same integers, so the result is bit-identical. .NET's Native AOT keeps AVX-VNNI as
    /// a run-time check in an x86-64-v3 binary, so the shipped edged takes this path on CPUs that have it.
    /// </summary>
    public static Vector128<int> Int8Block4Rows256Vnni(byte* codes, long rowBytes, sbyte* q, int blobBytes, int bits, byte* prefetch)
    {
        PrefetchGroupShare(prefetch, blobBytes);

        var mask = Vector256.Create((byte)((1 << bits) - 1));
        Vector256<int> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int segment = 0; segment < blobBytes; segment += 32)
        {
            byte* c = codes + segment;
            var c0 = Avx.LoadVector256(c);
            var c1 = Avx.LoadVector256(c + rowBytes);
            var c2 = Avx.LoadVector256(c + (2 * rowBytes));
            var c3 = Avx.LoadVector256(c + (3 * rowBytes));
            if (bits == 4)
            {
                sbyte* x = q + (segment * 2);
                var x0 = Avx.LoadVector256(x);
                var x1 = Avx.LoadVector256(x + 32);
                a0 = NibblesVnni(a0, c0, mask, x0, x1);
                a1 = NibblesVnni(a1, c1, mask, x0, x1);
                a2 = NibblesVnni(a2, c2, mask, x0, x1);
                a3 = NibblesVnni(a3, c3, mask, x0, x1);
            }
            else
            {
                sbyte* x = q + (segment * 4);
                var x0 = Avx.LoadVector256(x);
                var x1 = Avx.LoadVector256(x + 32);
                var x2 = Avx.LoadVector256(x + 64);
                var x3 = Avx.LoadVector256(x + 96);
                a0 = CrumbsVnni(a0, c0, mask, x0, x1, x2, x3);
                a1 = CrumbsVnni(a1, c1, mask, x0, x1, x2, x3);
                a2 = CrumbsVnni(a2, c2, mask, x0, x1, x2, x3);
                a3 = CrumbsVnni(a3, c3, mask, x0, x1, x2, x3);
            }
        }

        var h = Avx2.HorizontalAdd(Avx2.HorizontalAdd(a0, a1), Avx2.HorizontalAdd(a2, a3));
        return h.GetLower() + h.GetUpper();
    }

    /// <summary>
    /// Four interleaved row streams defeat the hardware prefetcher: the caller passes where the group after next lies
    /// (contiguous, 4·rowBytes) and each block step fetches its share of it, 4·blobBytes bytes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PrefetchGroupShare(byte* prefetch, int blobBytes)
    {
        for (int line = 0; line < 4 * blobBytes; line += 64)
        {
            Sse.Prefetch0(prefetch + line);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> NibblesVnni(Vector256<int> acc, Vector256<byte> packed, Vector256<byte> mask, Vector256<sbyte> x0, Vector256<sbyte> x1) =>
        AvxVnni.MultiplyWideningAndAdd(AvxVnni.MultiplyWideningAndAdd(acc, packed & mask, x0), Avx2.ShiftRightLogical(packed.AsUInt16(), 4).AsByte() & mask, x1);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> CrumbsVnni(Vector256<int> acc, Vector256<byte> packed, Vector256<byte> mask, Vector256<sbyte> x0, Vector256<sbyte> x1, Vector256<sbyte> x2, Vector256<sbyte> x3)
    {
        var words = packed.AsUInt16();
        acc = AvxVnni.MultiplyWideningAndAdd(acc, packed & mask, x0);
        acc = AvxVnni.MultiplyWideningAndAdd(acc, Avx2.ShiftRightLogical(words, 2).AsByte() & mask, x1);
        acc = AvxVnni.MultiplyWideningAndAdd(acc, Avx2.ShiftRightLogical(words, 4).AsByte() & mask, x2);
        return AvxVnni.MultiplyWideningAndAdd(acc, Avx2.ShiftRightLogical(words, 6).AsByte() & mask, x3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> Nibbles(Vector256<byte> packed, Vector256<byte> mask, Vector256<sbyte> x0, Vector256<sbyte> x1) =>
        Avx2.MultiplyAddAdjacent(packed & mask, x0) + Avx2.MultiplyAddAdjacent(Avx2.ShiftRightLogical(packed.AsUInt16(), 4).AsByte() & mask, x1);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> Crumbs(Vector256<byte> packed, Vector256<byte> mask, Vector256<sbyte> x0, Vector256<sbyte> x1, Vector256<sbyte> x2, Vector256<sbyte> x3)
    {
        var words = packed.AsUInt16();
        return Avx2.MultiplyAddAdjacent(packed & mask, x0)
            + Avx2.MultiplyAddAdjacent(Avx2.ShiftRightLogical(words, 2).AsByte() & mask, x1)
            + Avx2.MultiplyAddAdjacent(Avx2.ShiftRightLogical(words, 4).AsByte() & mask, x2)
            + Avx2.MultiplyAddAdjacent(Avx2.ShiftRightLogical(words, 6).AsByte() & mask, x3);
    }

    private static int Int8Block512(byte* codes, sbyte* q, int blobBytes, int bits)
    {
        var mask = Vector512.Create((byte)((1 << bits) - 1));
        var ones = Vector512.Create((short)1);
        var acc = Vector512<int>.Zero;
        for (int offset = 0; offset < blobBytes; offset += 64)
        {
            var packed = Avx512BW.LoadVector512(codes + offset);
            var words = packed.AsUInt16();
            Vector512<short> products;
            if (bits == 4)
            {
                sbyte* a = q + (offset * 2);
                products = Avx512BW.MultiplyAddAdjacent(packed & mask, Avx512BW.LoadVector512(a))
                    + Avx512BW.MultiplyAddAdjacent(Avx512BW.ShiftRightLogical(words, 4).AsByte() & mask, Avx512BW.LoadVector512(a + 64));
            }
            else
            {
                sbyte* a = q + (offset * 4);
                products = Avx512BW.MultiplyAddAdjacent(packed & mask, Avx512BW.LoadVector512(a))
                    + Avx512BW.MultiplyAddAdjacent(Avx512BW.ShiftRightLogical(words, 2).AsByte() & mask, Avx512BW.LoadVector512(a + 64))
                    + Avx512BW.MultiplyAddAdjacent(Avx512BW.ShiftRightLogical(words, 4).AsByte() & mask, Avx512BW.LoadVector512(a + 128))
                    + Avx512BW.MultiplyAddAdjacent(Avx512BW.ShiftRightLogical(words, 6).AsByte() & mask, Avx512BW.LoadVector512(a + 192));
            }

            acc += Avx512BW.MultiplyAddAdjacent(products, ones);
        }

        return Vector512.Sum(acc);
    }

    private static int Int8Block256(byte* codes, sbyte* q, int blobBytes, int bits)
    {
        var mask = Vector256.Create((byte)((1 << bits) - 1));
        var ones = Vector256.Create((short)1);
        var acc = Vector256<int>.Zero;
        for (int offset = 0; offset < blobBytes; offset += 32)
        {
            var packed = Avx.LoadVector256(codes + offset);
            var words = packed.AsUInt16();
            Vector256<short> products;
            if (bits == 4)
            {
                sbyte* a = q + (offset * 2);
                products = Avx2.MultiplyAddAdjacent(packed & mask, Avx.LoadVector256(a))
                    + Avx2.MultiplyAddAdjacent(Avx2.ShiftRightLogical(words, 4).AsByte() & mask, Avx.LoadVector256(a + 32));
            }
            else
            {
                sbyte* a = q + (offset * 4);
                products = Avx2.MultiplyAddAdjacent(packed & mask, Avx.LoadVector256(a))
                    + Avx2.MultiplyAddAdjacent(Avx2.ShiftRightLogical(words, 2).AsByte() & mask, Avx.LoadVector256(a + 32))
                    + Avx2.MultiplyAddAdjacent(Avx2.ShiftRightLogical(words, 4).AsByte() & mask, Avx.LoadVector256(a + 64))
                    + Avx2.MultiplyAddAdjacent(Avx2.ShiftRightLogical(words, 6).AsByte() & mask, Avx.LoadVector256(a + 96));
            }

            acc += Avx2.MultiplyAddAdjacent(products, ones);
        }

        return Vector256.Sum(acc);
    }

    private static int Int8Block128(byte* codes, sbyte* q, int blobBytes, int bits)
    {
        var mask = Vector128.Create((byte)((1 << bits) - 1));
        var ones = Vector128.Create((short)1);
        var acc = Vector128<int>.Zero;
        for (int offset = 0; offset < blobBytes; offset += 16)
        {
            var packed = Sse2.LoadVector128(codes + offset);
            var words = packed.AsUInt16();
            Vector128<short> products;
            if (bits == 4)
            {
                sbyte* a = q + (offset * 2);
                products = Ssse3.MultiplyAddAdjacent(packed & mask, Sse2.LoadVector128(a))
                    + Ssse3.MultiplyAddAdjacent(Sse2.ShiftRightLogical(words, 4).AsByte() & mask, Sse2.LoadVector128(a + 16));
            }
            else
            {
                sbyte* a = q + (offset * 4);
                products = Ssse3.MultiplyAddAdjacent(packed & mask, Sse2.LoadVector128(a))
                    + Ssse3.MultiplyAddAdjacent(Sse2.ShiftRightLogical(words, 2).AsByte() & mask, Sse2.LoadVector128(a + 16))
                    + Ssse3.MultiplyAddAdjacent(Sse2.ShiftRightLogical(words, 4).AsByte() & mask, Sse2.LoadVector128(a + 32))
                    + Ssse3.MultiplyAddAdjacent(Sse2.ShiftRightLogical(words, 6).AsByte() & mask, Sse2.LoadVector128(a + 48));
            }

            acc += Sse2.MultiplyAddAdjacent(products, ones);
        }

        return Vector128.Sum(acc);
    }

    // Codes are at most 15, so they are valid signed bytes: SDOT multiplies four of them with four activations per
    // lane; without SDOT, widening multiplies and a pairwise add (each 16-bit lane sums two products ≤ 15·127).
    private static int Int8BlockNeon(byte* codes, sbyte* q, int blobBytes, int bits)
    {
        var mask = Vector128.Create((byte)((1 << bits) - 1));
        var acc = Vector128<int>.Zero;
        for (int offset = 0; offset < blobBytes; offset += 16)
        {
            var packed = AdvSimd.LoadVector128(codes + offset);
            if (bits == 4)
            {
                sbyte* a = q + (offset * 2);
                acc = NeonDot(acc, (packed & mask).AsSByte(), AdvSimd.LoadVector128(a));
                acc = NeonDot(acc, AdvSimd.ShiftRightLogical(packed, 4).AsSByte(), AdvSimd.LoadVector128(a + 16));
            }
            else
            {
                sbyte* a = q + (offset * 4);
                acc = NeonDot(acc, (packed & mask).AsSByte(), AdvSimd.LoadVector128(a));
                acc = NeonDot(acc, (AdvSimd.ShiftRightLogical(packed, 2) & mask).AsSByte(), AdvSimd.LoadVector128(a + 16));
                acc = NeonDot(acc, (AdvSimd.ShiftRightLogical(packed, 4) & mask).AsSByte(), AdvSimd.LoadVector128(a + 32));
                acc = NeonDot(acc, AdvSimd.ShiftRightLogical(packed, 6).AsSByte(), AdvSimd.LoadVector128(a + 48));
            }
        }

        return Vector128.Sum(acc);
    }

    private static Vector128<int> NeonDot(Vector128<int> acc, Vector128<sbyte> w, Vector128<sbyte> x)
    {
        if (Dp.IsSupported)
        {
            return Dp.DotProduct(acc, w, x);
        }

        var products = AdvSimd.MultiplyWideningLower(w.GetLower(), x.GetLower()) + AdvSimd.MultiplyWideningUpper(w, x);
        return AdvSimd.AddPairwiseWideningAndAdd(acc, products);
    }
}
