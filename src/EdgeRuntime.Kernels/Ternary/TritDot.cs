using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace EdgeRuntime.Kernels.Ternary;

/// <summary>
/// The integer core of BitLinear on <see cref="TritPacking"/>'s 1.6-bit layout: Σ w·x_q for packed rows against one or
/// four quantized tokens, exact in int32 on every path, so equal to <see cref="TernaryDot"/> on the same weights.
/// <para>
/// x64 unpacks 32 bytes into five registers of codes 0..2 without a multiply: it keeps m − 128 as a signed byte (the
/// identity 3·(m + 128) ≡ 3·m + 128 mod 256 keeps the offset through the ×3 steps, done as byte adds), so the code is
/// [m − 128 &gt; −43] + [m − 128 &gt; 42] from two signed compares. The codes then go through pmaddubsw (or vpdpbusd with
/// AVX-VNNI) against the signed activations, and Σ x_q is subtracted for the +1 offset, as in <see cref="TernaryDot"/>.
/// With AVX-VNNI one token skips the codes: vpdpbusd takes the bytes m themselves (see Bytes256Vnni).
/// arm64 multiplies bytes directly, compares unsigned, and makes signed weights for widening multiplies; with SDOT it
/// skips the codes as AVX-VNNI does (see RowNeonBytes).
/// </para>
/// </summary>
internal static unsafe class TritDot
{
    // Chunks of 32 bytes summed in 16-bit lanes before widening: a chunk adds five pmaddubsw, each at most
    // 2·2·128 = 512 per lane, so twelve chunks stay within 30720.
    private const int ChunksPerWidening = 12;

    // The one-token VNNI forms (and arm64's SDOT form) sum the packed bytes, not codes (see Bytes256Vnni); their division by
    // 256 is exact while a lane's share of the dot product stays within ±2^23, that is for a padded K below 2^18. Longer
    // rows take the unpacking forms.
    private const int VnniRowBytesLimit = (1 << 18) / TritPacking.Digits;

    /// <summary>
    /// Σ_k w[k]·x[k] over a padded row; <paramref name="xSum"/> is Σ x (for the code offset on x64). <paramref name="vnni"/>
    /// picks vpdpbusd in the 256-bit forms (the caller passes <see cref="KernelPaths.Vnni"/>; tests pass both).
    /// </summary>
    public static int Row(KernelPath path, byte* w, int rowBytes, sbyte* x, int xSum, bool vnni) => path switch
    {
        KernelPath.Vector512 or KernelPath.Vector256 => (vnni && rowBytes < VnniRowBytesLimit ? Row256Vnni(w, rowBytes, x) : Row256(w, rowBytes, x)) - xSum,
        KernelPath.Vector128 => Row128(w, rowBytes, x) - xSum,
        KernelPath.AdvSimd => RowNeon(w, rowBytes, x),
        _ => RowScalar(w, rowBytes, x),
    };

    /// <summary>Four consecutive rows against one token (decode): the five activation vectors of a chunk are loaded once.</summary>
    public static void FourRows(KernelPath path, byte* w, int rowBytes, sbyte* x, int xSum, bool vnni, Span<int> results)
    {
        if (path is KernelPath.Vector256 or KernelPath.Vector512)
        {
            FourRows256(w, rowBytes, x, vnni && rowBytes < VnniRowBytesLimit, results);
            for (int r = 0; r < 4; r++)
            {
                results[r] -= xSum;
            }

            return;
        }

        for (int r = 0; r < 4; r++)
        {
            results[r] = Row(path, w + (r * rowBytes), rowBytes, x, xSum, vnni);
        }
    }

    /// <summary>Four tokens (x, x + stride, ...) against one row (prefill): each chunk is unpacked once for all four.</summary>
    public static void Row4(KernelPath path, byte* w, int rowBytes, sbyte* x, int stride, ReadOnlySpan<int> xSums, bool vnni, Span<int> results)
    {
        if (path is KernelPath.Vector256 or KernelPath.Vector512)
        {
            Row256x4(w, rowBytes, x, stride, vnni, results);
            for (int t = 0; t < 4; t++)
            {
                results[t] -= xSums[t];
            }

            return;
        }

        for (int t = 0; t < 4; t++)
        {
            results[t] = Row(path, w, rowBytes, x + (t * stride), xSums[t], vnni);
        }
    }

    public static int RowScalar(byte* w, int rowBytes, sbyte* x)
    {
        int acc = 0;
        for (int i = 0; i < rowBytes; i++)
        {
            (int block, int b) = Math.DivRem(i, TritPacking.BlockBytes);
            sbyte* xb = x + (block * TritPacking.BlockWeights) + b;
            for (int j = 0; j < TritPacking.Digits; j++)
            {
                acc += (TritPacking.Code(w[i], j) - 1) * xb[j * TritPacking.BlockBytes];
            }
        }

        return acc;
    }

    // m − 128 for the 32 bytes at p: the signed form the compares in Code256 read.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<sbyte> Offset256(byte* p) => Avx.LoadVector256((sbyte*)p) ^ Vector256.Create(sbyte.MinValue);

    // The codes (0, 1, 2) of one digit: 0 − [m' > −43] − [m' > 42], each compare giving 0 or −1.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Code256(Vector256<sbyte> m) =>
        (Vector256<sbyte>.Zero - Avx2.CompareGreaterThan(m, Vector256.Create((sbyte)-43)) - Avx2.CompareGreaterThan(m, Vector256.Create((sbyte)42))).AsByte();

    // The next digit: ×3 modulo 256, as two byte adds.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<sbyte> Times3(Vector256<sbyte> m) => m + m + m;

    // Σ code·x over one chunk's five digits, in 16-bit lanes (at most 5·512 per lane).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> Chunk256(Vector256<sbyte> m, Vector256<sbyte> x0, Vector256<sbyte> x1, Vector256<sbyte> x2, Vector256<sbyte> x3, Vector256<sbyte> x4)
    {
        var s = Avx2.MultiplyAddAdjacent(Code256(m), x0);
        m = Times3(m);
        s += Avx2.MultiplyAddAdjacent(Code256(m), x1);
        m = Times3(m);
        s += Avx2.MultiplyAddAdjacent(Code256(m), x2);
        m = Times3(m);
        s += Avx2.MultiplyAddAdjacent(Code256(m), x3);
        m = Times3(m);
        return s + Avx2.MultiplyAddAdjacent(Code256(m), x4);
    }

    // One token with vpdpbusd, without unpacking: code j of a byte is c_j = floor(3 m_j / 256) for m_j = q 3^j mod 256, so
    // 3 m_j = 256 c_j + m_{j+1} and sum c_j x_j = (3 sum m_j x_j - sum m_{j+1} x_j) / 256 exactly. The bytes go into
    // vpdpbusd as they are: a gathers m_j x_j, b gathers m_{j+1} x_j, and the ×3 steps are the only other work (the compare
    // form took seven instructions a digit against four here). ByteSums turns a and b into the sum of c·x.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Bytes256Vnni(ref Vector256<int> a, ref Vector256<int> b, byte* w, Vector256<sbyte> x0, Vector256<sbyte> x1, Vector256<sbyte> x2, Vector256<sbyte> x3, Vector256<sbyte> x4)
    {
        var m = Avx.LoadVector256(w);
        a = AvxVnni.MultiplyWideningAndAdd(a, m, x0);
        m = m + m + m;
        b = AvxVnni.MultiplyWideningAndAdd(b, m, x0);
        a = AvxVnni.MultiplyWideningAndAdd(a, m, x1);
        m = m + m + m;
        b = AvxVnni.MultiplyWideningAndAdd(b, m, x1);
        a = AvxVnni.MultiplyWideningAndAdd(a, m, x2);
        m = m + m + m;
        b = AvxVnni.MultiplyWideningAndAdd(b, m, x2);
        a = AvxVnni.MultiplyWideningAndAdd(a, m, x3);
        m = m + m + m;
        b = AvxVnni.MultiplyWideningAndAdd(b, m, x3);
        a = AvxVnni.MultiplyWideningAndAdd(a, m, x4);
        m = m + m + m;
        b = AvxVnni.MultiplyWideningAndAdd(b, m, x4);
    }

    // Σ c·x from Bytes256Vnni's sums: each lane's 3a − b is 256 times its share, exactly (wrap-around in a and b cancels).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int ByteSums(Vector256<int> a, Vector256<int> b) => Vector256.Sum(Vector256.ShiftRightArithmetic(a + a + a - b, 8));

    private static int Row256(byte* w, int rowBytes, sbyte* x)
    {
        var ones = Vector256.Create((short)1);
        var acc = Vector256<int>.Zero;
        int chunks = rowBytes / TritPacking.BlockBytes;
        int chunk = 0;
        while (chunk < chunks)
        {
            var s16 = Vector256<short>.Zero;
            int end = Math.Min(chunks, chunk + ChunksPerWidening);
            for (; chunk < end; chunk++)
            {
                sbyte* xb = x + (chunk * TritPacking.BlockWeights);
                s16 += Chunk256(Offset256(w + (chunk * 32)), Avx.LoadVector256(xb), Avx.LoadVector256(xb + 32), Avx.LoadVector256(xb + 64), Avx.LoadVector256(xb + 96), Avx.LoadVector256(xb + 128));
            }

            acc += Avx2.MultiplyAddAdjacent(s16, ones);
        }

        return Vector256.Sum(acc);
    }

    private static int Row256Vnni(byte* w, int rowBytes, sbyte* x)
    {
        Vector256<int> a = default, b = default;
        for (int offset = 0; offset < rowBytes; offset += 32)
        {
            sbyte* xb = x + (offset / 32 * TritPacking.BlockWeights);
            Bytes256Vnni(ref a, ref b, w + offset, Avx.LoadVector256(xb), Avx.LoadVector256(xb + 32), Avx.LoadVector256(xb + 64), Avx.LoadVector256(xb + 96), Avx.LoadVector256(xb + 128));
        }

        return ByteSums(a, b);
    }

    private static void FourRows256(byte* w, int rowBytes, sbyte* x, bool vnni, Span<int> results)
    {
        var ones = Vector256.Create((short)1);
        Vector256<int> a0 = default, a1 = default, a2 = default, a3 = default;
        Vector256<int> b0 = default, b1 = default, b2 = default, b3 = default;
        int chunks = rowBytes / TritPacking.BlockBytes;
        int chunk = 0;
        while (chunk < chunks)
        {
            Vector256<short> s0 = default, s1 = default, s2 = default, s3 = default;
            int end = Math.Min(chunks, chunk + ChunksPerWidening);
            for (; chunk < end; chunk++)
            {
                // As TernaryDot.FourRows: four interleaved rows defeat the hardware prefetcher, so fetch the group after
                // next ourselves, 128 of its bytes per chunk step.
                byte* ahead = w + (8 * rowBytes) + (chunk * 128);
                Sse.Prefetch0(ahead);
                Sse.Prefetch0(ahead + 64);
                sbyte* xb = x + (chunk * TritPacking.BlockWeights);
                var x0 = Avx.LoadVector256(xb);
                var x1 = Avx.LoadVector256(xb + 32);
                var x2 = Avx.LoadVector256(xb + 64);
                var x3 = Avx.LoadVector256(xb + 96);
                var x4 = Avx.LoadVector256(xb + 128);
                byte* wb = w + (chunk * 32);
                if (vnni)
                {
                    Bytes256Vnni(ref a0, ref b0, wb, x0, x1, x2, x3, x4);
                    Bytes256Vnni(ref a1, ref b1, wb + rowBytes, x0, x1, x2, x3, x4);
                    Bytes256Vnni(ref a2, ref b2, wb + (2 * rowBytes), x0, x1, x2, x3, x4);
                    Bytes256Vnni(ref a3, ref b3, wb + (3 * rowBytes), x0, x1, x2, x3, x4);
                }
                else
                {
                    s0 += Chunk256(Offset256(wb), x0, x1, x2, x3, x4);
                    s1 += Chunk256(Offset256(wb + rowBytes), x0, x1, x2, x3, x4);
                    s2 += Chunk256(Offset256(wb + (2 * rowBytes)), x0, x1, x2, x3, x4);
                    s3 += Chunk256(Offset256(wb + (3 * rowBytes)), x0, x1, x2, x3, x4);
                }
            }

            if (!vnni)
            {
                // The 16-bit sums exist only without VNNI (with it, vpdpbusd adds the bytes into a0..a3 and b0..b3).
                a0 += Avx2.MultiplyAddAdjacent(s0, ones);
                a1 += Avx2.MultiplyAddAdjacent(s1, ones);
                a2 += Avx2.MultiplyAddAdjacent(s2, ones);
                a3 += Avx2.MultiplyAddAdjacent(s3, ones);
            }
        }

        if (vnni)
        {
            results[0] = ByteSums(a0, b0);
            results[1] = ByteSums(a1, b1);
            results[2] = ByteSums(a2, b2);
            results[3] = ByteSums(a3, b3);
            return;
        }

        Sums(results, a0, a1, a2, a3);
    }

    private static void Sums(Span<int> results, Vector256<int> a0, Vector256<int> a1, Vector256<int> a2, Vector256<int> a3)
    {
        results[0] = Vector256.Sum(a0);
        results[1] = Vector256.Sum(a1);
        results[2] = Vector256.Sum(a2);
        results[3] = Vector256.Sum(a3);
    }

    // Each chunk unpacked once into five code registers, then used by the four tokens.
    private static void Row256x4(byte* w, int rowBytes, sbyte* x, int stride, bool vnni, Span<int> results)
    {
        var ones = Vector256.Create((short)1);
        Vector256<int> a0 = default, a1 = default, a2 = default, a3 = default;
        int chunks = rowBytes / TritPacking.BlockBytes;
        int chunk = 0;
        while (chunk < chunks)
        {
            Vector256<short> s0 = default, s1 = default, s2 = default, s3 = default;
            int end = Math.Min(chunks, chunk + ChunksPerWidening);
            for (; chunk < end; chunk++)
            {
                var m = Offset256(w + (chunk * 32));
                var c0 = Code256(m);
                m = Times3(m);
                var c1 = Code256(m);
                m = Times3(m);
                var c2 = Code256(m);
                m = Times3(m);
                var c3 = Code256(m);
                var c4 = Code256(Times3(m));
                sbyte* xb = x + (chunk * TritPacking.BlockWeights);
                if (vnni)
                {
                    a0 = Token256Vnni(a0, c0, c1, c2, c3, c4, xb);
                    a1 = Token256Vnni(a1, c0, c1, c2, c3, c4, xb + stride);
                    a2 = Token256Vnni(a2, c0, c1, c2, c3, c4, xb + (2 * stride));
                    a3 = Token256Vnni(a3, c0, c1, c2, c3, c4, xb + (3 * stride));
                }
                else
                {
                    s0 += Token256(c0, c1, c2, c3, c4, xb);
                    s1 += Token256(c0, c1, c2, c3, c4, xb + stride);
                    s2 += Token256(c0, c1, c2, c3, c4, xb + (2 * stride));
                    s3 += Token256(c0, c1, c2, c3, c4, xb + (3 * stride));
                }
            }

            if (!vnni)
            {
                // The 16-bit sums exist only without VNNI (vpdpbusd adds into a0..a3 directly).
                a0 += Avx2.MultiplyAddAdjacent(s0, ones);
                a1 += Avx2.MultiplyAddAdjacent(s1, ones);
                a2 += Avx2.MultiplyAddAdjacent(s2, ones);
                a3 += Avx2.MultiplyAddAdjacent(s3, ones);
            }
        }

        Sums(results, a0, a1, a2, a3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> Token256(Vector256<byte> c0, Vector256<byte> c1, Vector256<byte> c2, Vector256<byte> c3, Vector256<byte> c4, sbyte* xb) =>
        Avx2.MultiplyAddAdjacent(c0, Avx.LoadVector256(xb)) + Avx2.MultiplyAddAdjacent(c1, Avx.LoadVector256(xb + 32))
            + Avx2.MultiplyAddAdjacent(c2, Avx.LoadVector256(xb + 64)) + Avx2.MultiplyAddAdjacent(c3, Avx.LoadVector256(xb + 96))
            + Avx2.MultiplyAddAdjacent(c4, Avx.LoadVector256(xb + 128));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Token256Vnni(Vector256<int> acc, Vector256<byte> c0, Vector256<byte> c1, Vector256<byte> c2, Vector256<byte> c3, Vector256<byte> c4, sbyte* xb)
    {
        acc = AvxVnni.MultiplyWideningAndAdd(acc, c0, Avx.LoadVector256(xb));
        acc = AvxVnni.MultiplyWideningAndAdd(acc, c1, Avx.LoadVector256(xb + 32));
        acc = AvxVnni.MultiplyWideningAndAdd(acc, c2, Avx.LoadVector256(xb + 64));
        acc = AvxVnni.MultiplyWideningAndAdd(acc, c3, Avx.LoadVector256(xb + 96));
        return AvxVnni.MultiplyWideningAndAdd(acc, c4, Avx.LoadVector256(xb + 128));
    }

    /// <summary>SSSE3: each 32-byte chunk as two 16-byte halves, widened once per chunk.</summary>
    private static int Row128(byte* w, int rowBytes, sbyte* x)
    {
        var bias = Vector128.Create(sbyte.MinValue);
        var low = Vector128.Create((sbyte)-43);
        var high = Vector128.Create((sbyte)42);
        var ones = Vector128.Create((short)1);
        var acc = Vector128<int>.Zero;
        for (int offset = 0; offset < rowBytes; offset += 16)
        {
            sbyte* xb = x + (offset / 32 * TritPacking.BlockWeights) + (offset % 32);
            var m = Sse2.LoadVector128((sbyte*)w + offset) ^ bias;
            var s = Vector128<short>.Zero;
            for (int j = 0; j < TritPacking.Digits; j++)
            {
                var code = (Vector128<sbyte>.Zero - Sse2.CompareGreaterThan(m, low) - Sse2.CompareGreaterThan(m, high)).AsByte();
                s += Ssse3.MultiplyAddAdjacent(code, Sse2.LoadVector128(xb + (j * 32)));
                m = m + m + m;
            }

            acc += Sse2.MultiplyAddAdjacent(s, ones);
        }

        return Vector128.Sum(acc);
    }

    /// <summary>
    /// arm64: with SDOT (and a row within the byte forms' limit) <see cref="RowNeonBytes"/>; otherwise m = q·3ʲ by byte
    /// multiplies, the weight −1 − [m &gt; 85] − [m &gt; 170] as a signed byte, and widening multiplies (exact for any K).
    /// </summary>
    private static int RowNeon(byte* w, int rowBytes, sbyte* x)
    {
        if (Dp.IsSupported && KernelPaths.DotProduct && rowBytes < VnniRowBytesLimit)
        {
            return RowNeonBytes(w, rowBytes, x);
        }

        var three = Vector128.Create((byte)3);
        var low = Vector128.Create((byte)85);
        var high = Vector128.Create((byte)170);
        var minusOne = Vector128.Create((sbyte)-1);
        var acc = Vector128<int>.Zero;
        for (int offset = 0; offset < rowBytes; offset += 16)
        {
            sbyte* xb = x + (offset / 32 * TritPacking.BlockWeights) + (offset % 32);
            var m = AdvSimd.LoadVector128(w + offset);
            var products = Vector128<short>.Zero;
            for (int j = 0; j < TritPacking.Digits; j++)
            {
                var weight = minusOne - AdvSimd.CompareGreaterThan(m, low).AsSByte() - AdvSimd.CompareGreaterThan(m, high).AsSByte();
                var xj = AdvSimd.LoadVector128(xb + (j * 32));

                // Five digits of two products per 16-bit lane, each at most 128: within 1280.
                products += AdvSimd.MultiplyWideningLower(weight.GetLower(), xj.GetLower()) + AdvSimd.MultiplyWideningUpper(weight, xj);
                m = AdvSimd.Multiply(m, three);
            }

            acc = AdvSimd.AddPairwiseWideningAndAdd(acc, products);
        }

        return Vector128.Sum(acc);
    }

    /// <summary>
    /// arm64 with SDOT, without unpacking (as Bytes256Vnni): m′ = m XOR 0x80 is m − 128 as a signed byte and keeps that
    /// offset through ×3 (3·128 ≡ 128 mod 256), so with a′ = Σ m′_j·x_j and b′ = Σ m′_{j+1}·x_j each lane's 3a′ − b′ is
    /// 3a − b − 256·Σx = 256·Σ w·x: a byte multiply and two SDOT a digit, against two compares, two subtracts, a multiply
    /// and one SDOT. Exact for a padded K below 2^18, as on x64.
    /// </summary>
    private static int RowNeonBytes(byte* w, int rowBytes, sbyte* x)
    {
        var three = Vector128.Create((sbyte)3);
        var offset128 = Vector128.Create(sbyte.MinValue);
        Vector128<int> a = default, b = default;
        for (int offset = 0; offset < rowBytes; offset += 16)
        {
            sbyte* xb = x + (offset / 32 * TritPacking.BlockWeights) + (offset % 32);
            var m = AdvSimd.LoadVector128((sbyte*)w + offset) ^ offset128;
            for (int j = 0; j < TritPacking.Digits; j++)
            {
                var xj = AdvSimd.LoadVector128(xb + (j * 32));
                a = Dp.DotProduct(a, m, xj);
                m = AdvSimd.Multiply(m, three);
                b = Dp.DotProduct(b, m, xj);
            }
        }

        return Vector128.Sum(Vector128.ShiftRightArithmetic(a + a + a - b, 8));
    }
}
