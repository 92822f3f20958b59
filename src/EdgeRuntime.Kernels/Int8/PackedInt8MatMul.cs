using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using EdgeRuntime.Kernels.Native;

namespace EdgeRuntime.Kernels.Int8;

/// <summary>
/// MatMulInteger against <see cref="PackedInt8Weights"/>, exact. With a_u = a + (128 if A is int8) in 0..255 and
/// b' = b − Offset, the kernel computes S = Σ_k a_u·b' and the zero points enter afterwards:
/// y = S − B'·Σa_u − A'·colsum(b') + K·A'·B', where A' = a_zp + (128 if A is int8) and B' = b_zp − Offset.
/// x64 with AVX-VNNI multiplies a_u by b' with vpdpbusd, which sums four u8 × s8 products straight into 32 bits; x64
/// without it splits a_u into nibbles so pmaddubsw (u8 × s8) cannot saturate (2·15·128 per lane) and sums the two
/// halves ×1 and ×16 with pmaddwd; arm64 uses SDOT on a_u − 128 (int8) and adds 128·colsum back. Where the CPU has
/// AVX-512 VNNI, the native kernel (libedgekernels) runs vpdpbusd on 512 bits: one 64-byte group is one register, and
/// each loaded group serves four tokens (native/kernels/x64_avx512vnni.c). Where an arm64 CPU has I8MM, batches go to
/// the native USMMLA kernel, which zips two groups into each column pair's eight values (native/kernels/arm64_i8mm.c).
/// </summary>
public static unsafe class PackedInt8MatMul
{
    /// <summary>
    /// Per token, what the kernels read: activation quads (whole a_u for VNNI and the native kernels, nibble-split on
    /// other x64, signed for arm64's C# SDOT form) and Σa_u.
    /// </summary>
    public struct Token
    {
        public int* Low;
        public int* High;
        public int Sum;
        public int ZeroPoint;

        /// <summary>Low holds whole a_u bytes for vpdpbusd or USMMLA (High is unused).</summary>
        public bool Whole;

        /// <summary>A native kernel (AVX-512 VNNI, or I8MM on arm64) computes this token (Whole is then set too).</summary>
        public bool Native;
    }

    /// <summary>Whether <paramref name="path"/> runs the C# AVX-VNNI form in this process (unless the caller turns it off).</summary>
    public static bool UsesVnni(KernelPath path, bool allowVnni = true) =>
        allowVnni && path is KernelPath.Vector256 or KernelPath.Vector512 && KernelPaths.Vnni;

    /// <summary>
    /// Whether <paramref name="path"/> runs a native kernel for <paramref name="m"/> tokens in this process: the
    /// AVX-512 VNNI one for any m, arm64's I8MM one for two tokens or more (it multiplies token pairs).
    /// <paramref name="allowNative"/> false keeps the C# forms (tests compare all of them).
    /// </summary>
    public static bool UsesNative(KernelPath path, int m, bool allowVnni = true, bool allowNative = true) =>
        allowNative && (allowVnni && KernelPaths.NativeAvx512Vnni(path) || KernelPaths.NativeI8mm(path) && m > 1);

    /// <summary>
    /// Fills one token's quads from its 8-bit values (length K), for a product of <paramref name="m"/> tokens; Low/High
    /// must hold KQuads ints. <paramref name="allowVnni"/> false keeps the AVX2 form on a VNNI CPU,
    /// <paramref name="allowNative"/> false the C# forms (tests check them all).
    /// </summary>
    public static void Prepare(KernelPath path, ReadOnlySpan<byte> a, bool signed, int zeroPoint, int kQuads, int m, ref Token token, bool allowVnni = true, bool allowNative = true)
    {
        bool native = UsesNative(path, m, allowVnni, allowNative);
        bool whole = native || UsesVnni(path, allowVnni);
        token.ZeroPoint = zeroPoint + (signed ? 128 : 0);
        token.Whole = whole;
        token.Native = native;
        if (whole)
        {
            // a_u's bytes in order are the quads (little-endian): a copy, sign flip for int8, and a vector sum.
            token.Sum = PrepareWhole(a, signed, new Span<byte>(token.Low, kQuads * 4));
            return;
        }

        int sum = 0;
        for (int quad = 0; quad < kQuads; quad++)
        {
            uint low = 0, high = 0;
            for (int i = 0; i < 4; i++)
            {
                int index = (quad * 4) + i;
                int u = index < a.Length ? (signed ? (sbyte)a[index] + 128 : a[index]) : 0;
                sum += u;
                if (path == KernelPath.AdvSimd)
                {
                    // a_s = a_u − 128 for SDOT; padded rows have b' = 0, so whatever a_s holds there adds nothing.
                    low |= (uint)(byte)(u - 128) << (8 * i);
                }
                else
                {
                    low |= (uint)(u & 15) << (8 * i);
                    high |= (uint)(u >> 4) << (8 * i);
                }
            }

            token.Low[quad] = (int)low;
            token.High[quad] = (int)high;
        }

        token.Sum = sum;
    }

    // The whole form (vpdpbusd, and the native kernels' USMMLA on arm64): a_u = a, or a + 128 = a ^ 0x80 for int8,
    // zero-padded to the quads; returns Σa_u, summed 16 bytes at a time (psadbw on x64, widening adds elsewhere).
    private static int PrepareWhole(ReadOnlySpan<byte> a, bool signed, Span<byte> quads)
    {
        a.CopyTo(quads);
        quads[a.Length..].Clear();
        byte flip = signed ? (byte)0x80 : (byte)0;
        var flips = Vector128.Create(flip);
        long sum = 0;
        int i = 0;
        fixed (byte* values = quads)
        {
            if (Sse2.IsSupported)
            {
                Vector128<long> total = default;
                for (; i + 16 <= a.Length; i += 16)
                {
                    var v = Sse2.LoadVector128(values + i) ^ flips;
                    Sse2.Store(values + i, v);
                    total += Sse2.SumAbsoluteDifferences(v, Vector128<byte>.Zero).AsInt64();
                }

                sum = total.GetElement(0) + total.GetElement(1);
            }
            else if (Vector128.IsHardwareAccelerated)
            {
                Vector128<uint> total = default;
                for (; i + 16 <= a.Length; i += 16)
                {
                    var v = Vector128.Load(values + i) ^ flips;
                    v.Store(values + i);
                    var (low, high) = Vector128.Widen(v);
                    var (a0, a1) = Vector128.Widen(low + high);
                    total += a0 + a1; // at most 4 x 255 a lane per step: no overflow below 2^22 steps
                }

                sum = Vector128.Sum(total);
            }
        }

        for (; i < a.Length; i++)
        {
            quads[i] ^= flip;
            sum += quads[i];
        }

        return (int)sum;
    }

    /// <summary>The whole MatMulInteger for m tokens on one thread, with pooled scratch (tests and tools).</summary>
    public static void MatMulInteger(KernelPath path, PackedInt8Weights b, ReadOnlySpan<byte> a, bool aSigned, int m, ReadOnlySpan<int> aZeroPoints, ReadOnlySpan<int> bZeroPoints, Span<int> y, bool allowVnni = true, bool allowNative = true)
    {
        if (a.Length != m * b.K || y.Length != m * b.N)
        {
            throw new ArgumentException($"MatMulInteger sizes disagree: A has {a.Length} values (expected {m}x{b.K}), Y {y.Length} ({m}x{b.N}).");
        }

        long quadStride = 2L * b.KQuads;
        int[] quads = System.Buffers.ArrayPool<int>.Shared.Rent((int)Math.Max(1, m * quadStride));
        short[] zeroPoints = System.Buffers.ArrayPool<short>.Shared.Rent(Math.Max(1, b.N));
        int[] offsets = System.Buffers.ArrayPool<int>.Shared.Rent(b.Tiles * PackedInt8Weights.TileColumns);
        var tokens = System.Buffers.ArrayPool<Token>.Shared.Rent(Math.Max(1, m));
        int[] terms = System.Buffers.ArrayPool<int>.Shared.Rent(Math.Max(1, 2 * m));
        try
        {
            Int8MatMul.ExpandZeroPoints(bZeroPoints, b.N, zeroPoints);
            fixed (int* q = quads)
            fixed (int* output = y)
            fixed (Token* t = tokens)
            fixed (int* columnOffsets = offsets)
            fixed (int* tokenTerms = terms)
            {
                for (int row = 0; row < m; row++)
                {
                    t[row] = new Token { Low = q + (row * quadStride), High = q + (row * quadStride) + b.KQuads };
                    int za = aZeroPoints.IsEmpty ? 0 : aZeroPoints.Length == 1 ? aZeroPoints[0] : aZeroPoints[row];
                    Prepare(path, a.Slice(row * b.K, b.K), aSigned, za, b.KQuads, m, ref t[row], allowVnni, allowNative);
                }

                if (m > 0 && t[0].Native)
                {
                    ColumnOffsets(b, zeroPoints.AsSpan(0, b.N), offsets);
                    TokenTerms(t, m, tokenTerms, tokenTerms + m);
                    ComputeTilesNative(b, q, quadStride, tokenTerms, tokenTerms + m, m, columnOffsets, output, 0, b.Tiles);
                }
                else
                {
                    for (int row = 0; row < m; row++)
                    {
                        ComputeTiles(path, b, t[row], zeroPoints.AsSpan(0, b.N), output + ((long)row * b.N), 0, b.Tiles);
                    }
                }
            }
        }
        finally
        {
            System.Buffers.ArrayPool<int>.Shared.Return(quads);
            System.Buffers.ArrayPool<short>.Shared.Return(zeroPoints);
            System.Buffers.ArrayPool<int>.Shared.Return(offsets);
            System.Buffers.ArrayPool<Token>.Shared.Return(tokens);
            System.Buffers.ArrayPool<int>.Shared.Return(terms);
        }
    }

    /// <summary>B' = b_zp − Offset per column, zero past N: Tiles·16 values, as the native kernel reads them.</summary>
    public static void ColumnOffsets(PackedInt8Weights b, ReadOnlySpan<short> bZeroPoints, Span<int> offsets)
    {
        for (int column = 0; column < b.Tiles * PackedInt8Weights.TileColumns; column++)
        {
            offsets[column] = column < b.N ? bZeroPoints[column] - b.Offset : 0;
        }
    }

    /// <summary>The tokens' Σa_u and A' as two arrays of m, as the native kernel reads them.</summary>
    public static void TokenTerms(Token* tokens, int m, int* sums, int* zeroPoints)
    {
        for (int t = 0; t < m; t++)
        {
            sums[t] = tokens[t].Sum;
            zeroPoints[t] = tokens[t].ZeroPoint;
        }
    }

    /// <summary>
    /// Tiles [tileStart, tileEnd) for m tokens at once with the native kernel (AVX-512 VNNI, or I8MM on arm64), zero points applied: the
    /// tokens were prepared with <see cref="Token.Native"/>, their quads <paramref name="quadStride"/> ints apart from
    /// <paramref name="quads"/>; y holds m rows of N; <paramref name="columnOffsets"/> comes from <see cref="ColumnOffsets"/>.
    /// </summary>
    public static void ComputeTilesNative(PackedInt8Weights b, int* quads, long quadStride, int* tokenSums, int* tokenZeroPoints, int m, int* columnOffsets, int* y, int tileStart, int tileEnd) =>
        NativeKernels.Int8PackedMatMul(b.Data, b.KQuads, b.K, b.N, tileStart, tileEnd, b.ColumnSums, columnOffsets, quads, quadStride, tokenSums, tokenZeroPoints, m, y, b.N);

    /// <summary>Output columns of tiles [tileStart, tileEnd) for one token, written to y (length N).</summary>
    public static void ComputeTiles(KernelPath path, PackedInt8Weights b, in Token token, ReadOnlySpan<short> bZeroPoints, int* y, int tileStart, int tileEnd)
    {
        if (token.Native)
        {
            // Both callers send native tokens to ComputeTilesNative, all tokens at once; a native token here is a bug.
            throw new ArgumentException("The token was prepared for the native kernel; compute it with ComputeTilesNative.", nameof(token));
        }

        int* s = stackalloc int[PackedInt8Weights.TileColumns];
        for (int tile = tileStart; tile < tileEnd; tile++)
        {
            sbyte* data = b.Data + ((long)tile * b.KQuads * 64);
            switch (path)
            {
                case KernelPath.Vector256 or KernelPath.Vector512 when token.Whole: Tile256Vnni(data, b.KQuads, token, s); break;
                case KernelPath.Vector256 or KernelPath.Vector512: Tile256(data, b.KQuads, token, s); break;
                case KernelPath.Vector128: Tile128(data, b.KQuads, token, s); break;
                case KernelPath.AdvSimd: TileNeon(data, b.KQuads, token, s); break;
                default: TileScalar(data, b.KQuads, token, s); break;
            }

            Finish(b, token, bZeroPoints, s, y, tile, armSigned: path == KernelPath.AdvSimd);
        }
    }

    // One tile's raw sums S (16 columns) to outputs: the zero-point terms, and on arm64 the 128·colsum that SDOT on
    // a_u − 128 left out.
    private static void Finish(PackedInt8Weights b, in Token token, ReadOnlySpan<short> bZeroPoints, int* s, int* y, int tile, bool armSigned)
    {
        int first = tile * PackedInt8Weights.TileColumns;
        int count = Math.Min(PackedInt8Weights.TileColumns, b.N - first);
        for (int c = 0; c < count; c++)
        {
            int column = first + c;
            int colSum = b.ColumnSums[column];
            int bPrime = bZeroPoints[column] - b.Offset;
            int sum = armSigned ? s[c] + (128 * colSum) : s[c];
            y[column] = sum - (bPrime * token.Sum) - (token.ZeroPoint * colSum) + (b.K * token.ZeroPoint * bPrime);
        }
    }

    private static void TileScalar(sbyte* data, int kQuads, in Token token, int* s)
    {
        for (int c = 0; c < PackedInt8Weights.TileColumns; c++)
        {
            s[c] = 0;
        }

        for (int quad = 0; quad < kQuads; quad++)
        {
            sbyte* group = data + (quad * 64);
            for (int i = 0; i < 4; i++)
            {
                int u = token.Whole
                    ? (token.Low[quad] >> (8 * i)) & 255
                    : ((token.Low[quad] >> (8 * i)) & 15) + (((token.High[quad] >> (8 * i)) & 15) << 4);
                for (int c = 0; c < PackedInt8Weights.TileColumns; c++)
                {
                    s[c] += u * group[(c * 4) + i];
                }
            }
        }
    }

    // 16-bit partial sums of up to eight quads (≤ 8·2·15·128 = 30720) before widening: 2 loads, 4 pmaddubsw and 4 adds
    // per 64-byte group.
    private static void Tile256(sbyte* data, int kQuads, in Token token, int* s)
    {
        var ones = Vector256.Create((short)1);
        var sixteens = Vector256.Create((short)16);
        Vector256<int> acc0 = default, acc1 = default;
        for (int quad = 0; quad < kQuads;)
        {
            Vector256<short> low0 = default, low1 = default, high0 = default, high1 = default;
            int end = Math.Min(kQuads, quad + 8);
            for (; quad < end; quad++)
            {
                var lo = Vector256.Create(token.Low[quad]).AsByte();
                var hi = Vector256.Create(token.High[quad]).AsByte();
                sbyte* group = data + (quad * 64);
                var w0 = Avx.LoadVector256(group);
                var w1 = Avx.LoadVector256(group + 32);
                low0 += Avx2.MultiplyAddAdjacent(lo, w0);
                high0 += Avx2.MultiplyAddAdjacent(hi, w0);
                low1 += Avx2.MultiplyAddAdjacent(lo, w1);
                high1 += Avx2.MultiplyAddAdjacent(hi, w1);
            }

            acc0 += Avx2.MultiplyAddAdjacent(low0, ones) + Avx2.MultiplyAddAdjacent(high0, sixteens);
            acc1 += Avx2.MultiplyAddAdjacent(low1, ones) + Avx2.MultiplyAddAdjacent(high1, sixteens);
        }

        acc0.Store(s);
        acc1.Store(s + 8);
    }

    // vpdpbusd: each int32 lane adds one column's four u8 × s8 products (at most 4·255·128, no 16-bit stage). Four
    // quads per step into four pairs of accumulators, so the adds into one register are not back to back.
    private static void Tile256Vnni(sbyte* data, int kQuads, in Token token, int* s)
    {
        Vector256<int> a0 = default, a1 = default, b0 = default, b1 = default, c0 = default, c1 = default, d0 = default, d1 = default;
        int quad = 0;
        for (; quad + 4 <= kQuads; quad += 4)
        {
            sbyte* group = data + (quad * 64);
            var x0 = Vector256.Create(token.Low[quad]).AsByte();
            var x1 = Vector256.Create(token.Low[quad + 1]).AsByte();
            var x2 = Vector256.Create(token.Low[quad + 2]).AsByte();
            var x3 = Vector256.Create(token.Low[quad + 3]).AsByte();
            a0 = AvxVnni.MultiplyWideningAndAdd(a0, x0, Avx.LoadVector256(group));
            a1 = AvxVnni.MultiplyWideningAndAdd(a1, x0, Avx.LoadVector256(group + 32));
            b0 = AvxVnni.MultiplyWideningAndAdd(b0, x1, Avx.LoadVector256(group + 64));
            b1 = AvxVnni.MultiplyWideningAndAdd(b1, x1, Avx.LoadVector256(group + 96));
            c0 = AvxVnni.MultiplyWideningAndAdd(c0, x2, Avx.LoadVector256(group + 128));
            c1 = AvxVnni.MultiplyWideningAndAdd(c1, x2, Avx.LoadVector256(group + 160));
            d0 = AvxVnni.MultiplyWideningAndAdd(d0, x3, Avx.LoadVector256(group + 192));
            d1 = AvxVnni.MultiplyWideningAndAdd(d1, x3, Avx.LoadVector256(group + 224));
        }

        for (; quad < kQuads; quad++)
        {
            sbyte* group = data + (quad * 64);
            var x = Vector256.Create(token.Low[quad]).AsByte();
            a0 = AvxVnni.MultiplyWideningAndAdd(a0, x, Avx.LoadVector256(group));
            a1 = AvxVnni.MultiplyWideningAndAdd(a1, x, Avx.LoadVector256(group + 32));
        }

        ((a0 + b0) + (c0 + d0)).Store(s);
        ((a1 + b1) + (c1 + d1)).Store(s + 8);
    }

    private static void Tile128(sbyte* data, int kQuads, in Token token, int* s)
    {
        var ones = Vector128.Create((short)1);
        var sixteens = Vector128.Create((short)16);
        Vector128<int> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        for (int quad = 0; quad < kQuads;)
        {
            Vector128<short> l0 = default, l1 = default, l2 = default, l3 = default, h0 = default, h1 = default, h2 = default, h3 = default;
            int end = Math.Min(kQuads, quad + 8);
            for (; quad < end; quad++)
            {
                var lo = Vector128.Create(token.Low[quad]).AsByte();
                var hi = Vector128.Create(token.High[quad]).AsByte();
                sbyte* group = data + (quad * 64);
                var w0 = Sse2.LoadVector128(group);
                var w1 = Sse2.LoadVector128(group + 16);
                var w2 = Sse2.LoadVector128(group + 32);
                var w3 = Sse2.LoadVector128(group + 48);
                l0 += Ssse3.MultiplyAddAdjacent(lo, w0);
                h0 += Ssse3.MultiplyAddAdjacent(hi, w0);
                l1 += Ssse3.MultiplyAddAdjacent(lo, w1);
                h1 += Ssse3.MultiplyAddAdjacent(hi, w1);
                l2 += Ssse3.MultiplyAddAdjacent(lo, w2);
                h2 += Ssse3.MultiplyAddAdjacent(hi, w2);
                l3 += Ssse3.MultiplyAddAdjacent(lo, w3);
                h3 += Ssse3.MultiplyAddAdjacent(hi, w3);
            }

            acc0 += Sse2.MultiplyAddAdjacent(l0, ones) + Sse2.MultiplyAddAdjacent(h0, sixteens);
            acc1 += Sse2.MultiplyAddAdjacent(l1, ones) + Sse2.MultiplyAddAdjacent(h1, sixteens);
            acc2 += Sse2.MultiplyAddAdjacent(l2, ones) + Sse2.MultiplyAddAdjacent(h2, sixteens);
            acc3 += Sse2.MultiplyAddAdjacent(l3, ones) + Sse2.MultiplyAddAdjacent(h3, sixteens);
        }

        acc0.Store(s);
        acc1.Store(s + 4);
        acc2.Store(s + 8);
        acc3.Store(s + 12);
    }

    // SDOT: each int32 lane gets the dot of one column's four signed weights with the token's four signed values.
    private static void TileNeon(sbyte* data, int kQuads, in Token token, int* s)
    {
        Vector128<int> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        bool dot = Dp.IsSupported && KernelPaths.DotProduct;
        for (int quad = 0; quad < kQuads; quad++)
        {
            var x = Vector128.Create(token.Low[quad]).AsSByte();
            sbyte* group = data + (quad * 64);
            var w0 = AdvSimd.LoadVector128(group);
            var w1 = AdvSimd.LoadVector128(group + 16);
            var w2 = AdvSimd.LoadVector128(group + 32);
            var w3 = AdvSimd.LoadVector128(group + 48);
            if (dot)
            {
                acc0 = Dp.DotProduct(acc0, w0, x);
                acc1 = Dp.DotProduct(acc1, w1, x);
                acc2 = Dp.DotProduct(acc2, w2, x);
                acc3 = Dp.DotProduct(acc3, w3, x);
            }
            else
            {
                acc0 += Products(w0, x);
                acc1 += Products(w1, x);
                acc2 += Products(w2, x);
                acc3 += Products(w3, x);
            }
        }

        acc0.Store(s);
        acc1.Store(s + 4);
        acc2.Store(s + 8);
        acc3.Store(s + 12);
    }

    // Without SDOT: widening multiplies give 16-bit products (up to 128·128, so two of them may not share a 16-bit
    // lane); they are widened pairwise to int32 and folded once more so lane i holds column i's four products.
    private static Vector128<int> Products(Vector128<sbyte> w, Vector128<sbyte> x)
    {
        var low = AdvSimd.AddPairwiseWidening(AdvSimd.MultiplyWideningLower(w.GetLower(), x.GetLower()));
        var high = AdvSimd.AddPairwiseWidening(AdvSimd.MultiplyWideningUpper(w, x));
        return AdvSimd.Arm64.AddPairwise(low, high);
    }
}
