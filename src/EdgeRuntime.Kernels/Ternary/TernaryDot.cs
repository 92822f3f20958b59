using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace EdgeRuntime.Kernels.Ternary;

/// <summary>
/// The integer core of BitLinear: Σ w·x_q for one packed weight row against one or four quantized tokens, exact in
/// int32 on every path. x64 multiplies the unsigned codes (w + 1) by the signed activations (pmaddubsw, or vpdpbusd
/// with AVX-VNNI) and subtracts Σ x_q; arm64 turns the codes into signed weights and uses SDOT when present.
/// </summary>
internal static unsafe class TernaryDot
{
    /// <summary>Σ_k w[k]·x[k] over a padded row; <paramref name="xSum"/> is Σ x (for the code offset on x64).</summary>
    public static int Row(KernelPath path, byte* w, int rowBytes, sbyte* x, int xSum) => path switch
    {
        KernelPath.Vector512 => Row512(w, rowBytes, x) - xSum,
        KernelPath.Vector256 => Row256(w, rowBytes, x) - xSum,
        KernelPath.Vector128 => Row128(w, rowBytes, x) - xSum,
        KernelPath.AdvSimd => RowNeon(w, rowBytes, x),
        _ => RowScalar(w, rowBytes, x),
    };

    /// <summary>
    /// Four consecutive rows against one token: the activations are loaded once for all four rows and the loop and
    /// reduction overheads, large next to a short row (K=2560 is ten 64-byte blocks), are shared.
    /// </summary>
    public static void FourRows(KernelPath path, byte* w, int rowBytes, sbyte* x, int xSum, Span<int> results)
    {
        if (path is KernelPath.Vector256 or KernelPath.Vector512)
        {
            if (path == KernelPath.Vector512)
            {
                FourRows512(w, rowBytes, x, results);
            }
            else
            {
                FourRows256(w, rowBytes, x, results);
            }

            for (int r = 0; r < 4; r++)
            {
                results[r] -= xSum;
            }

            return;
        }

        for (int r = 0; r < 4; r++)
        {
            results[r] = Row(path, w + (r * rowBytes), rowBytes, x, xSum);
        }
    }

    private static void FourRows512(byte* w, int rowBytes, sbyte* x, Span<int> results)
    {
        var mask = Vector512.Create((byte)3);
        var ones = Vector512.Create((short)1);
        Vector512<int> a0 = default, a1 = default, a2 = default, a3 = default;
        int blocks = rowBytes / 64;
        int block = 0;
        while (block < blocks)
        {
            Vector512<short> s0 = default, s1 = default, s2 = default, s3 = default;
            int end = Math.Min(blocks, block + 8);
            for (; block < end; block++)
            {
                sbyte* xb = x + (block * 256);
                var x0 = Avx512BW.LoadVector512(xb);
                var x1 = Avx512BW.LoadVector512(xb + 64);
                var x2 = Avx512BW.LoadVector512(xb + 128);
                var x3 = Avx512BW.LoadVector512(xb + 192);
                byte* wb = w + (block * 64);

                // Four interleaved rows defeat the hardware prefetcher; fetch the group after next ourselves (its
                // 4·rowBytes bytes, 256 per block step), about two groups' compute ahead of use.
                byte* ahead = w + (8 * rowBytes) + (block * 256);
                Sse.Prefetch0(ahead);
                Sse.Prefetch0(ahead + 64);
                Sse.Prefetch0(ahead + 128);
                Sse.Prefetch0(ahead + 192);
                s0 += Block512(Avx512BW.LoadVector512(wb), mask, x0, x1, x2, x3);
                s1 += Block512(Avx512BW.LoadVector512(wb + rowBytes), mask, x0, x1, x2, x3);
                s2 += Block512(Avx512BW.LoadVector512(wb + (2 * rowBytes)), mask, x0, x1, x2, x3);
                s3 += Block512(Avx512BW.LoadVector512(wb + (3 * rowBytes)), mask, x0, x1, x2, x3);
            }

            a0 += Avx512BW.MultiplyAddAdjacent(s0, ones);
            a1 += Avx512BW.MultiplyAddAdjacent(s1, ones);
            a2 += Avx512BW.MultiplyAddAdjacent(s2, ones);
            a3 += Avx512BW.MultiplyAddAdjacent(s3, ones);
        }

        results[0] = Vector512.Sum(a0);
        results[1] = Vector512.Sum(a1);
        results[2] = Vector512.Sum(a2);
        results[3] = Vector512.Sum(a3);
    }

    /// <summary>The AVX2 form of <see cref="FourRows512"/>: each 64-byte block as two 32-byte halves.</summary>
    private static void FourRows256(byte* w, int rowBytes, sbyte* x, Span<int> results)
    {
        var mask = Vector256.Create((byte)3);
        var ones = Vector256.Create((short)1);
        Vector256<int> a0 = default, a1 = default, a2 = default, a3 = default;
        int blocks = rowBytes / 64;
        int block = 0;
        while (block < blocks)
        {
            Vector256<short> s0 = default, s1 = default, s2 = default, s3 = default;
            int end = Math.Min(blocks, block + 4);
            for (; block < end; block++)
            {
                byte* ahead = w + (8 * rowBytes) + (block * 256);
                Sse.Prefetch0(ahead);
                Sse.Prefetch0(ahead + 64);
                Sse.Prefetch0(ahead + 128);
                Sse.Prefetch0(ahead + 192);
                for (int half = 0; half < 64; half += 32)
                {
                    sbyte* xb = x + (block * 256) + half;
                    var x0 = Avx.LoadVector256(xb);
                    var x1 = Avx.LoadVector256(xb + 64);
                    var x2 = Avx.LoadVector256(xb + 128);
                    var x3 = Avx.LoadVector256(xb + 192);
                    byte* wb = w + (block * 64) + half;
                    s0 += Block256(Avx.LoadVector256(wb), mask, x0, x1, x2, x3);
                    s1 += Block256(Avx.LoadVector256(wb + rowBytes), mask, x0, x1, x2, x3);
                    s2 += Block256(Avx.LoadVector256(wb + (2 * rowBytes)), mask, x0, x1, x2, x3);
                    s3 += Block256(Avx.LoadVector256(wb + (3 * rowBytes)), mask, x0, x1, x2, x3);
                }
            }

            a0 += Avx2.MultiplyAddAdjacent(s0, ones);
            a1 += Avx2.MultiplyAddAdjacent(s1, ones);
            a2 += Avx2.MultiplyAddAdjacent(s2, ones);
            a3 += Avx2.MultiplyAddAdjacent(s3, ones);
        }

        results[0] = Vector256.Sum(a0);
        results[1] = Vector256.Sum(a1);
        results[2] = Vector256.Sum(a2);
        results[3] = Vector256.Sum(a3);
    }

    // Per lane: four products of at most 2·128·2 per call; the callers widen before 16 bits can overflow.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> Block256(Vector256<byte> p, Vector256<byte> mask, Vector256<sbyte> x0, Vector256<sbyte> x1, Vector256<sbyte> x2, Vector256<sbyte> x3) =>
        Avx2.MultiplyAddAdjacent(p & mask, x0)
        + Avx2.MultiplyAddAdjacent(Avx2.ShiftRightLogical(p.AsUInt16(), 2).AsByte() & mask, x1)
        + Avx2.MultiplyAddAdjacent(Avx2.ShiftRightLogical(p.AsUInt16(), 4).AsByte() & mask, x2)
        + Avx2.MultiplyAddAdjacent(Avx2.ShiftRightLogical(p.AsUInt16(), 6).AsByte() & mask, x3);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<short> Block512(Vector512<byte> p, Vector512<byte> mask, Vector512<sbyte> x0, Vector512<sbyte> x1, Vector512<sbyte> x2, Vector512<sbyte> x3) =>
        Avx512BW.MultiplyAddAdjacent(p & mask, x0)
        + Avx512BW.MultiplyAddAdjacent(Avx512BW.ShiftRightLogical(p.AsUInt16(), 2).AsByte() & mask, x1)
        + Avx512BW.MultiplyAddAdjacent(Avx512BW.ShiftRightLogical(p.AsUInt16(), 4).AsByte() & mask, x2)
        + Avx512BW.MultiplyAddAdjacent(Avx512BW.ShiftRightLogical(p.AsUInt16(), 6).AsByte() & mask, x3);

    /// <summary>Four tokens (x, x + stride, ...) against one row: the weights are unpacked once for all four.</summary>
    public static void Row4(KernelPath path, byte* w, int rowBytes, sbyte* x, int stride, ReadOnlySpan<int> xSums, Span<int> results)
    {
        if (path is KernelPath.Vector256 or KernelPath.Vector512)
        {
            if (KernelPaths.Vnni)
            {
                Row256x4Vnni(w, rowBytes, x, stride, results);
            }
            else
            {
                Row256x4(w, rowBytes, x, stride, results);
            }

            for (int t = 0; t < 4; t++)
            {
                results[t] -= xSums[t];
            }

            return;
        }

        for (int t = 0; t < 4; t++)
        {
            results[t] = Row(path, w, rowBytes, x + (t * stride), xSums[t]);
        }
    }

    public static int RowScalar(byte* w, int rowBytes, sbyte* x)
    {
        int acc = 0;
        for (int block = 0; block < rowBytes; block += TernaryPacking.BlockBytes)
        {
            sbyte* xb = x + (block * 4);
            for (int b = 0; b < TernaryPacking.BlockBytes; b++)
            {
                int packed = w[block + b];
                for (int j = 0; j < 4; j++)
                {
                    acc += (((packed >> (2 * j)) & 3) - 1) * xb[(64 * j) + b];
                }
            }
        }

        return acc;
    }

    /// <summary>
    /// Σ code·x with AVX-512BW, one 64-byte block (256 weights) per step: products summed in 16-bit lanes over up to
    /// eight steps (at most 8·4·512 = 16384 per lane) before one widening, for the fewest instructions per byte.
    /// </summary>
    private static int Row512(byte* w, int rowBytes, sbyte* x)
    {
        var mask = Vector512.Create((byte)3);
        var ones = Vector512.Create((short)1);
        var acc = Vector512<int>.Zero;
        int blocks = rowBytes / 64;
        int block = 0;
        while (block < blocks)
        {
            var s16 = Vector512<short>.Zero;
            int end = Math.Min(blocks, block + 8);
            for (; block < end; block++)
            {
                var p = Avx512BW.LoadVector512(w + (block * 64));
                sbyte* xb = x + (block * 256);
                s16 += Avx512BW.MultiplyAddAdjacent(p & mask, Avx512BW.LoadVector512(xb));
                s16 += Avx512BW.MultiplyAddAdjacent(Avx512BW.ShiftRightLogical(p.AsUInt16(), 2).AsByte() & mask, Avx512BW.LoadVector512(xb + 64));
                s16 += Avx512BW.MultiplyAddAdjacent(Avx512BW.ShiftRightLogical(p.AsUInt16(), 4).AsByte() & mask, Avx512BW.LoadVector512(xb + 128));
                s16 += Avx512BW.MultiplyAddAdjacent(Avx512BW.ShiftRightLogical(p.AsUInt16(), 6).AsByte() & mask, Avx512BW.LoadVector512(xb + 192));
            }

            acc += Avx512BW.MultiplyAddAdjacent(s16, ones);
        }

        return Vector512.Sum(acc);
    }

    /// <summary>Σ code·x, codes 0..2 (x64 AVX2, unsigned × signed), 16-bit sums widened every four blocks.</summary>
    private static int Row256(byte* w, int rowBytes, sbyte* x)
    {
        var mask = Vector256.Create((byte)3);
        var ones = Vector256.Create((short)1);
        var acc = Vector256<int>.Zero;
        int blocks = rowBytes / 64;
        int block = 0;
        while (block < blocks)
        {
            var s16 = Vector256<short>.Zero;
            int end = Math.Min(blocks, block + 4);
            for (; block < end; block++)
            {
                for (int half = 0; half < 64; half += 32)
                {
                    var p = Avx.LoadVector256(w + (block * 64) + half);
                    sbyte* xb = x + (block * 256) + half;
                    s16 += Avx2.MultiplyAddAdjacent(p & mask, Avx.LoadVector256(xb));
                    s16 += Avx2.MultiplyAddAdjacent(Avx2.ShiftRightLogical(p.AsUInt16(), 2).AsByte() & mask, Avx.LoadVector256(xb + 64));
                    s16 += Avx2.MultiplyAddAdjacent(Avx2.ShiftRightLogical(p.AsUInt16(), 4).AsByte() & mask, Avx.LoadVector256(xb + 128));
                    s16 += Avx2.MultiplyAddAdjacent(Avx2.ShiftRightLogical(p.AsUInt16(), 6).AsByte() & mask, Avx.LoadVector256(xb + 192));
                }
            }

            acc += Avx2.MultiplyAddAdjacent(s16, ones);
        }

        return Vector256.Sum(acc);
    }

    /// <summary>Four tokens against one row with AVX2: each weight register is unpacked once and used four times.</summary>
    // Four tokens against one row: each 32-byte chunk of codes is unpacked once; per token, four pmaddubsw into 16-bit
    // sums (at most 4·2·2·128 = 2048 per chunk), widened every eight chunks (≤ 16384: no overflow).
    private static void Row256x4(byte* w, int rowBytes, sbyte* x, int stride, Span<int> results)
    {
        var mask = Vector256.Create((byte)3);
        var ones = Vector256.Create((short)1);
        Vector256<int> a0 = default, a1 = default, a2 = default, a3 = default;
        int offset = 0;
        while (offset < rowBytes)
        {
            Vector256<short> s0 = default, s1 = default, s2 = default, s3 = default;
            int end = Math.Min(rowBytes, offset + (8 * 32));
            for (; offset < end; offset += 32)
            {
                var p = Avx.LoadVector256(w + offset);
                var c0 = p & mask;
                var c1 = Avx2.ShiftRightLogical(p.AsUInt16(), 2).AsByte() & mask;
                var c2 = Avx2.ShiftRightLogical(p.AsUInt16(), 4).AsByte() & mask;
                var c3 = Avx2.ShiftRightLogical(p.AsUInt16(), 6).AsByte() & mask;
                sbyte* xb = x + ((offset / 64) * 256) + (offset % 64);
                s0 += Token(c0, c1, c2, c3, xb);
                s1 += Token(c0, c1, c2, c3, xb + stride);
                s2 += Token(c0, c1, c2, c3, xb + (2 * stride));
                s3 += Token(c0, c1, c2, c3, xb + (3 * stride));
            }

            a0 += Avx2.MultiplyAddAdjacent(s0, ones);
            a1 += Avx2.MultiplyAddAdjacent(s1, ones);
            a2 += Avx2.MultiplyAddAdjacent(s2, ones);
            a3 += Avx2.MultiplyAddAdjacent(s3, ones);
        }

        results[0] = Vector256.Sum(a0);
        results[1] = Vector256.Sum(a1);
        results[2] = Vector256.Sum(a2);
        results[3] = Vector256.Sum(a3);
    }

    /// <summary>
    /// Four tokens against two rows (x64 AVX2 without VNNI): each activation vector loaded serves both rows, so a step
    /// loads 2 weight and 16 activation vectors for 32 pmaddubsw where two <see cref="Row256x4"/> calls load 34.
    /// 16-bit sums widened every eight steps as there (at most 8·4·2·2·127 = 16256 per lane).
    /// </summary>
    public static void TwoRows256x4(byte* w, int rowBytes, sbyte* x, int stride, ReadOnlySpan<int> xSums, Span<int> first, Span<int> second)
    {
        var mask = Vector256.Create((byte)3);
        var ones = Vector256.Create((short)1);
        Vector256<int> a0 = default, a1 = default, a2 = default, a3 = default, b0 = default, b1 = default, b2 = default, b3 = default;
        byte* w1 = w + rowBytes;
        int offset = 0;
        while (offset < rowBytes)
        {
            Vector256<short> s0 = default, s1 = default, s2 = default, s3 = default, t0 = default, t1 = default, t2 = default, t3 = default;
            int end = Math.Min(rowBytes, offset + (8 * 32));
            for (; offset < end; offset += 32)
            {
                var p = Avx.LoadVector256(w + offset).AsUInt16();
                var q = Avx.LoadVector256(w1 + offset).AsUInt16();
                sbyte* xb = x + ((offset / 64) * 256) + (offset % 64);
                Plane(p.AsByte() & mask, q.AsByte() & mask, xb, stride, ref s0, ref s1, ref s2, ref s3, ref t0, ref t1, ref t2, ref t3);
                Plane(Avx2.ShiftRightLogical(p, 2).AsByte() & mask, Avx2.ShiftRightLogical(q, 2).AsByte() & mask, xb + 64, stride, ref s0, ref s1, ref s2, ref s3, ref t0, ref t1, ref t2, ref t3);
                Plane(Avx2.ShiftRightLogical(p, 4).AsByte() & mask, Avx2.ShiftRightLogical(q, 4).AsByte() & mask, xb + 128, stride, ref s0, ref s1, ref s2, ref s3, ref t0, ref t1, ref t2, ref t3);
                Plane(Avx2.ShiftRightLogical(p, 6).AsByte() & mask, Avx2.ShiftRightLogical(q, 6).AsByte() & mask, xb + 192, stride, ref s0, ref s1, ref s2, ref s3, ref t0, ref t1, ref t2, ref t3);
            }

            a0 += Avx2.MultiplyAddAdjacent(s0, ones);
            a1 += Avx2.MultiplyAddAdjacent(s1, ones);
            a2 += Avx2.MultiplyAddAdjacent(s2, ones);
            a3 += Avx2.MultiplyAddAdjacent(s3, ones);
            b0 += Avx2.MultiplyAddAdjacent(t0, ones);
            b1 += Avx2.MultiplyAddAdjacent(t1, ones);
            b2 += Avx2.MultiplyAddAdjacent(t2, ones);
            b3 += Avx2.MultiplyAddAdjacent(t3, ones);
        }

        first[0] = Vector256.Sum(a0) - xSums[0];
        first[1] = Vector256.Sum(a1) - xSums[1];
        first[2] = Vector256.Sum(a2) - xSums[2];
        first[3] = Vector256.Sum(a3) - xSums[3];
        second[0] = Vector256.Sum(b0) - xSums[0];
        second[1] = Vector256.Sum(b1) - xSums[1];
        second[2] = Vector256.Sum(b2) - xSums[2];
        second[3] = Vector256.Sum(b3) - xSums[3];
    }

    // One plane of 32 codes from each of two rows against the same 32 activations of four tokens.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Plane(Vector256<byte> c, Vector256<byte> d, sbyte* xp, int stride, ref Vector256<short> s0, ref Vector256<short> s1, ref Vector256<short> s2, ref Vector256<short> s3, ref Vector256<short> t0, ref Vector256<short> t1, ref Vector256<short> t2, ref Vector256<short> t3)
    {
        var x0 = Avx.LoadVector256(xp);
        s0 += Avx2.MultiplyAddAdjacent(c, x0);
        t0 += Avx2.MultiplyAddAdjacent(d, x0);
        var x1 = Avx.LoadVector256(xp + stride);
        s1 += Avx2.MultiplyAddAdjacent(c, x1);
        t1 += Avx2.MultiplyAddAdjacent(d, x1);
        var x2 = Avx.LoadVector256(xp + (2 * stride));
        s2 += Avx2.MultiplyAddAdjacent(c, x2);
        t2 += Avx2.MultiplyAddAdjacent(d, x2);
        var x3 = Avx.LoadVector256(xp + (3 * stride));
        s3 += Avx2.MultiplyAddAdjacent(c, x3);
        t3 += Avx2.MultiplyAddAdjacent(d, x3);
    }

    // The same with AVX-VNNI: vpdpbusd multiplies the codes by the activations and adds the groups of four straight into
    // int32, so there is no 16-bit stage to widen. Two accumulators per token halve the dependency chains.
    private static void Row256x4Vnni(byte* w, int rowBytes, sbyte* x, int stride, Span<int> results)
    {
        var mask = Vector256.Create((byte)3);
        Vector256<int> a0 = default, a1 = default, a2 = default, a3 = default;
        Vector256<int> b0 = default, b1 = default, b2 = default, b3 = default;
        for (int offset = 0; offset < rowBytes; offset += 32)
        {
            var p = Avx.LoadVector256(w + offset);
            var c0 = p & mask;
            var c1 = Avx2.ShiftRightLogical(p.AsUInt16(), 2).AsByte() & mask;
            var c2 = Avx2.ShiftRightLogical(p.AsUInt16(), 4).AsByte() & mask;
            var c3 = Avx2.ShiftRightLogical(p.AsUInt16(), 6).AsByte() & mask;
            sbyte* xb = x + ((offset / 64) * 256) + (offset % 64);
            a0 = AvxVnni.MultiplyWideningAndAdd(AvxVnni.MultiplyWideningAndAdd(a0, c0, Avx.LoadVector256(xb)), c1, Avx.LoadVector256(xb + 64));
            b0 = AvxVnni.MultiplyWideningAndAdd(AvxVnni.MultiplyWideningAndAdd(b0, c2, Avx.LoadVector256(xb + 128)), c3, Avx.LoadVector256(xb + 192));
            xb += stride;
            a1 = AvxVnni.MultiplyWideningAndAdd(AvxVnni.MultiplyWideningAndAdd(a1, c0, Avx.LoadVector256(xb)), c1, Avx.LoadVector256(xb + 64));
            b1 = AvxVnni.MultiplyWideningAndAdd(AvxVnni.MultiplyWideningAndAdd(b1, c2, Avx.LoadVector256(xb + 128)), c3, Avx.LoadVector256(xb + 192));
            xb += stride;
            a2 = AvxVnni.MultiplyWideningAndAdd(AvxVnni.MultiplyWideningAndAdd(a2, c0, Avx.LoadVector256(xb)), c1, Avx.LoadVector256(xb + 64));
            b2 = AvxVnni.MultiplyWideningAndAdd(AvxVnni.MultiplyWideningAndAdd(b2, c2, Avx.LoadVector256(xb + 128)), c3, Avx.LoadVector256(xb + 192));
            xb += stride;
            a3 = AvxVnni.MultiplyWideningAndAdd(AvxVnni.MultiplyWideningAndAdd(a3, c0, Avx.LoadVector256(xb)), c1, Avx.LoadVector256(xb + 64));
            b3 = AvxVnni.MultiplyWideningAndAdd(AvxVnni.MultiplyWideningAndAdd(b3, c2, Avx.LoadVector256(xb + 128)), c3, Avx.LoadVector256(xb + 192));
        }

        results[0] = Vector256.Sum(a0 + b0);
        results[1] = Vector256.Sum(a1 + b1);
        results[2] = Vector256.Sum(a2 + b2);
        results[3] = Vector256.Sum(a3 + b3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> Token(Vector256<byte> c0, Vector256<byte> c1, Vector256<byte> c2, Vector256<byte> c3, sbyte* xb) =>
        Avx2.MultiplyAddAdjacent(c0, Avx.LoadVector256(xb)) + Avx2.MultiplyAddAdjacent(c1, Avx.LoadVector256(xb + 64))
            + Avx2.MultiplyAddAdjacent(c2, Avx.LoadVector256(xb + 128)) + Avx2.MultiplyAddAdjacent(c3, Avx.LoadVector256(xb + 192));

    private static int Row128(byte* w, int rowBytes, sbyte* x)
    {
        var mask = Vector128.Create((byte)3);
        var ones = Vector128.Create((short)1);
        var acc = Vector128<int>.Zero;
        for (int offset = 0; offset < rowBytes; offset += 16)
        {
            sbyte* xb = x + ((offset >> 6) << 8) + (offset & 63);
            var p = Sse2.LoadVector128(w + offset);
            var s = Ssse3.MultiplyAddAdjacent(p & mask, Sse2.LoadVector128(xb))
                + Ssse3.MultiplyAddAdjacent(Sse2.ShiftRightLogical(p.AsUInt16(), 2).AsByte() & mask, Sse2.LoadVector128(xb + 64))
                + Ssse3.MultiplyAddAdjacent(Sse2.ShiftRightLogical(p.AsUInt16(), 4).AsByte() & mask, Sse2.LoadVector128(xb + 128))
                + Ssse3.MultiplyAddAdjacent(Sse2.ShiftRightLogical(p.AsUInt16(), 6).AsByte() & mask, Sse2.LoadVector128(xb + 192));
            acc += Sse2.MultiplyAddAdjacent(s, ones);
        }

        return Vector128.Sum(acc);
    }

    /// <summary>Σ w·x with signed weights (arm64): SDOT when present, else widening multiplies.</summary>
    private static int RowNeon(byte* w, int rowBytes, sbyte* x)
    {
        var mask = Vector128.Create((byte)3);
        var one = Vector128.Create((sbyte)1);
        var acc = Vector128<int>.Zero;
        bool dot = Dp.IsSupported && KernelPaths.DotProduct;
        for (int offset = 0; offset < rowBytes; offset += 16)
        {
            sbyte* xb = x + ((offset >> 6) << 8) + (offset & 63);
            var p = AdvSimd.LoadVector128(w + offset);
            var w0 = AdvSimd.Subtract((p & mask).AsSByte(), one);
            var w1 = AdvSimd.Subtract((AdvSimd.ShiftRightLogical(p, 2) & mask).AsSByte(), one);
            var w2 = AdvSimd.Subtract((AdvSimd.ShiftRightLogical(p, 4) & mask).AsSByte(), one);
            var w3 = AdvSimd.Subtract(AdvSimd.ShiftRightLogical(p, 6).AsSByte(), one);
            var x0 = AdvSimd.LoadVector128(xb);
            var x1 = AdvSimd.LoadVector128(xb + 64);
            var x2 = AdvSimd.LoadVector128(xb + 128);
            var x3 = AdvSimd.LoadVector128(xb + 192);
            if (dot)
            {
                acc = Dp.DotProduct(acc, w0, x0);
                acc = Dp.DotProduct(acc, w1, x1);
                acc = Dp.DotProduct(acc, w2, x2);
                acc = Dp.DotProduct(acc, w3, x3);
            }
            else
            {
                acc = AdvSimd.AddPairwiseWideningAndAdd(acc, Products(w0, x0) + Products(w1, x1) + Products(w2, x2) + Products(w3, x3));
            }
        }

        return Vector128.Sum(acc);
    }

    // Sixteen signed 8-bit products folded into eight 16-bit lanes; each product is at most 128 in size, and the
    // eight summed per lane (four registers, two halves) at most 1024: no overflow.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<short> Products(Vector128<sbyte> w, Vector128<sbyte> x) =>
        AdvSimd.MultiplyWideningLower(w.GetLower(), x.GetLower()) + AdvSimd.MultiplyWideningUpper(w, x);
}
