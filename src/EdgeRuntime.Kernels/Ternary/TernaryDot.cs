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
        KernelPath.Vector256 => Row256(w, rowBytes, x) - xSum,
        KernelPath.Vector128 => Row128(w, rowBytes, x) - xSum,
        KernelPath.AdvSimd => RowNeon(w, rowBytes, x),
        _ => RowScalar(w, rowBytes, x),
    };

    /// <summary>Four tokens (x, x + stride, ...) against one row: the weights are unpacked once for all four.</summary>
    public static void Row4(KernelPath path, byte* w, int rowBytes, sbyte* x, int stride, ReadOnlySpan<int> xSums, Span<int> results)
    {
        if (path == KernelPath.Vector256)
        {
            Row256x4(w, rowBytes, x, stride, results);
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
                    acc += (((packed >> (2 * j)) & 3) - 1) * xb[(32 * j) + b];
                }
            }
        }

        return acc;
    }

    /// <summary>Σ code·x, codes 0..2 (x64, unsigned × signed).</summary>
    private static int Row256(byte* w, int rowBytes, sbyte* x)
    {
        var mask = Vector256.Create((byte)3);
        var ones = Vector256.Create((short)1);
        var acc = Vector256<int>.Zero;
        var acc2 = Vector256<int>.Zero;
        bool vnni = AvxVnni.IsSupported;
        for (int block = 0; block < rowBytes; block += 32)
        {
            var p = Avx.LoadVector256(w + block);
            var c0 = p & mask;
            var c1 = Avx2.ShiftRightLogical(p.AsUInt16(), 2).AsByte() & mask;
            var c2 = Avx2.ShiftRightLogical(p.AsUInt16(), 4).AsByte() & mask;
            var c3 = Avx2.ShiftRightLogical(p.AsUInt16(), 6).AsByte() & mask;
            sbyte* xb = x + (block * 4);
            var x0 = Avx.LoadVector256(xb);
            var x1 = Avx.LoadVector256(xb + 32);
            var x2 = Avx.LoadVector256(xb + 64);
            var x3 = Avx.LoadVector256(xb + 96);
            if (vnni)
            {
                acc = AvxVnni.MultiplyWideningAndAdd(acc, c0, x0);
                acc2 = AvxVnni.MultiplyWideningAndAdd(acc2, c1, x1);
                acc = AvxVnni.MultiplyWideningAndAdd(acc, c2, x2);
                acc2 = AvxVnni.MultiplyWideningAndAdd(acc2, c3, x3);
            }
            else
            {
                // Each 16-bit lane sums 8 products of at most 2·128: no saturation.
                var s = Avx2.MultiplyAddAdjacent(c0, x0) + Avx2.MultiplyAddAdjacent(c1, x1)
                    + Avx2.MultiplyAddAdjacent(c2, x2) + Avx2.MultiplyAddAdjacent(c3, x3);
                acc += Avx2.MultiplyAddAdjacent(s, ones);
            }
        }

        return Vector256.Sum(acc + acc2);
    }

    private static void Row256x4(byte* w, int rowBytes, sbyte* x, int stride, Span<int> results)
    {
        var mask = Vector256.Create((byte)3);
        var ones = Vector256.Create((short)1);
        Vector256<int> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int block = 0; block < rowBytes; block += 32)
        {
            var p = Avx.LoadVector256(w + block);
            var c0 = p & mask;
            var c1 = Avx2.ShiftRightLogical(p.AsUInt16(), 2).AsByte() & mask;
            var c2 = Avx2.ShiftRightLogical(p.AsUInt16(), 4).AsByte() & mask;
            var c3 = Avx2.ShiftRightLogical(p.AsUInt16(), 6).AsByte() & mask;
            sbyte* xb = x + (block * 4);
            a0 += Token(c0, c1, c2, c3, xb, ones);
            a1 += Token(c0, c1, c2, c3, xb + stride, ones);
            a2 += Token(c0, c1, c2, c3, xb + (2 * stride), ones);
            a3 += Token(c0, c1, c2, c3, xb + (3 * stride), ones);
        }

        results[0] = Vector256.Sum(a0);
        results[1] = Vector256.Sum(a1);
        results[2] = Vector256.Sum(a2);
        results[3] = Vector256.Sum(a3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Token(Vector256<byte> c0, Vector256<byte> c1, Vector256<byte> c2, Vector256<byte> c3, sbyte* xb, Vector256<short> ones)
    {
        if (AvxVnni.IsSupported)
        {
            var acc = AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, c0, Avx.LoadVector256(xb));
            acc = AvxVnni.MultiplyWideningAndAdd(acc, c1, Avx.LoadVector256(xb + 32));
            acc = AvxVnni.MultiplyWideningAndAdd(acc, c2, Avx.LoadVector256(xb + 64));
            return AvxVnni.MultiplyWideningAndAdd(acc, c3, Avx.LoadVector256(xb + 96));
        }

        var s = Avx2.MultiplyAddAdjacent(c0, Avx.LoadVector256(xb)) + Avx2.MultiplyAddAdjacent(c1, Avx.LoadVector256(xb + 32))
            + Avx2.MultiplyAddAdjacent(c2, Avx.LoadVector256(xb + 64)) + Avx2.MultiplyAddAdjacent(c3, Avx.LoadVector256(xb + 96));
        return Avx2.MultiplyAddAdjacent(s, ones);
    }

    private static int Row128(byte* w, int rowBytes, sbyte* x)
    {
        var mask = Vector128.Create((byte)3);
        var ones = Vector128.Create((short)1);
        var acc = Vector128<int>.Zero;
        for (int block = 0; block < rowBytes; block += 32)
        {
            sbyte* xb = x + (block * 4);
            for (int half = 0; half < 32; half += 16)
            {
                var p = Sse2.LoadVector128(w + block + half);
                var c0 = p & mask;
                var c1 = Sse2.ShiftRightLogical(p.AsUInt16(), 2).AsByte() & mask;
                var c2 = Sse2.ShiftRightLogical(p.AsUInt16(), 4).AsByte() & mask;
                var c3 = Sse2.ShiftRightLogical(p.AsUInt16(), 6).AsByte() & mask;
                var s = Ssse3.MultiplyAddAdjacent(c0, Sse2.LoadVector128(xb + half)) + Ssse3.MultiplyAddAdjacent(c1, Sse2.LoadVector128(xb + 32 + half))
                    + Ssse3.MultiplyAddAdjacent(c2, Sse2.LoadVector128(xb + 64 + half)) + Ssse3.MultiplyAddAdjacent(c3, Sse2.LoadVector128(xb + 96 + half));
                acc += Sse2.MultiplyAddAdjacent(s, ones);
            }
        }

        return Vector128.Sum(acc);
    }

    /// <summary>Σ w·x with signed weights (arm64): SDOT when present, else widening multiplies.</summary>
    private static int RowNeon(byte* w, int rowBytes, sbyte* x)
    {
        var mask = Vector128.Create((byte)3);
        var one = Vector128.Create((sbyte)1);
        var acc = Vector128<int>.Zero;
        bool dot = Dp.IsSupported;
        for (int block = 0; block < rowBytes; block += 32)
        {
            sbyte* xb = x + (block * 4);
            for (int half = 0; half < 32; half += 16)
            {
                var p = AdvSimd.LoadVector128(w + block + half);
                var w0 = AdvSimd.Subtract((p & mask).AsSByte(), one);
                var w1 = AdvSimd.Subtract((AdvSimd.ShiftRightLogical(p, 2) & mask).AsSByte(), one);
                var w2 = AdvSimd.Subtract((AdvSimd.ShiftRightLogical(p, 4) & mask).AsSByte(), one);
                var w3 = AdvSimd.Subtract(AdvSimd.ShiftRightLogical(p, 6).AsSByte(), one);
                var x0 = AdvSimd.LoadVector128(xb + half);
                var x1 = AdvSimd.LoadVector128(xb + 32 + half);
                var x2 = AdvSimd.LoadVector128(xb + 64 + half);
                var x3 = AdvSimd.LoadVector128(xb + 96 + half);
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
        }

        return Vector128.Sum(acc);
    }

    // Sixteen signed 8-bit products folded into eight 16-bit lanes; each product is at most 128 in size, and the
    // eight summed per lane (four registers, two halves) at most 1024: no overflow.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<short> Products(Vector128<sbyte> w, Vector128<sbyte> x) =>
        AdvSimd.MultiplyWideningLower(w.GetLower(), x.GetLower()) + AdvSimd.MultiplyWideningUpper(w, x);
}
