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
            // AVX-512 adds nothing here: .NET 10 exposes no 512-bit vpdpbusd, and the eight-row 256-bit form
            // (NBitsEightRows, AVX-VNNI where present) beat the one-row 512-bit pmaddubsw form it replaced.
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
            var from = natural.Slice(start, perSegment);
            var to = planes.Slice(start, perSegment);
            for (int plane = 0; plane < perByte; plane++)
            {
                var target = to.Slice(plane * segment, segment);
                for (int i = 0; i < target.Length; i++)
                {
                    target[i] = from[(i * perByte) + plane];
                }
            }
        }
    }

    /// <summary>
    /// <see cref="ToPlanes"/> for 4-bit codes and 4-byte segments (the native batch kernel's order): of every eight
    /// values the even ones, then the odd ones; one byte shuffle per 16 values (whole blocks are multiples of 16).
    /// </summary>
    public static void EvenThenOdd(ReadOnlySpan<sbyte> natural, Span<sbyte> planes)
    {
        var order = Vector128.Create((byte)0, 2, 4, 6, 1, 3, 5, 7, 8, 10, 12, 14, 9, 11, 13, 15);
        for (int i = 0; i < natural.Length; i += 16)
        {
            Vector128.Shuffle(Vector128.Create(natural.Slice(i, 16)).AsByte(), order).AsSByte().CopyTo(planes.Slice(i, 16));
        }
    }

    /// <summary>Σ code·q over one block (integer, exact).</summary>
    public static int Int8Block(KernelPath path, int segment, byte* codes, sbyte* q, int blobBytes, int bits) => segment switch
    {
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
        bool dot = KernelPaths.DotProduct;
        for (int offset = 0; offset < blobBytes; offset += 16)
        {
            var packed = AdvSimd.LoadVector128(codes + offset);
            if (bits == 4)
            {
                sbyte* a = q + (offset * 2);
                acc = NeonDot(dot, acc, (packed & mask).AsSByte(), AdvSimd.LoadVector128(a));
                acc = NeonDot(dot, acc, AdvSimd.ShiftRightLogical(packed, 4).AsSByte(), AdvSimd.LoadVector128(a + 16));
            }
            else
            {
                sbyte* a = q + (offset * 4);
                acc = NeonDot(dot, acc, (packed & mask).AsSByte(), AdvSimd.LoadVector128(a));
                acc = NeonDot(dot, acc, (AdvSimd.ShiftRightLogical(packed, 2) & mask).AsSByte(), AdvSimd.LoadVector128(a + 16));
                acc = NeonDot(dot, acc, (AdvSimd.ShiftRightLogical(packed, 4) & mask).AsSByte(), AdvSimd.LoadVector128(a + 32));
                acc = NeonDot(dot, acc, AdvSimd.ShiftRightLogical(packed, 6).AsSByte(), AdvSimd.LoadVector128(a + 48));
            }
        }

        return Vector128.Sum(acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> NeonDot(bool dot, Vector128<int> acc, Vector128<sbyte> w, Vector128<sbyte> x)
    {
        if (Dp.IsSupported && dot)
        {
            return Dp.DotProduct(acc, w, x);
        }

        var products = AdvSimd.MultiplyWideningLower(w.GetLower(), x.GetLower()) + AdvSimd.MultiplyWideningUpper(w, x);
        return AdvSimd.AddPairwiseWideningAndAdd(acc, products);
    }
}
