using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeRuntime.Kernels.LowBit;

/// <summary>
/// MatMulNBits' int8 mode on x64 for eight output rows at a time (256-bit vectors, 32-byte plane segments). Decode is
/// a matrix-vector product, so what bounds it is how fast the weights stream in and how little work each byte costs:
/// eight rows share every activation load, their eight block dots are reduced together into one vector, and the
/// per-block float step (zero point, two scales, accumulate) runs once for all eight lanes. The whole row group runs
/// in one method so nothing is reloaded or called per block.
/// <para>
/// Each lane does exactly the scalar sequence of the definition (the integer block dot, minus zp·Σq, converted, times
/// s·scale, added in block order), so the result is bit-identical to <see cref="NBitsReference"/>.
/// </para>
/// </summary>
internal static unsafe class NBitsEightRows
{
    public const int Rows = 8;

    /// <summary>
    /// Whether the form in use is AVX-VNNI's (<c>vpdpbusd</c>): the CPU has it (a run-time check even in Native AOT)
    /// and the board profile has not turned it off (<see cref="KernelPaths.Vnni"/> holds both).
    /// </summary>
    public static bool UsesVnni => KernelPaths.Vnni;

    /// <summary>Bytes of <see cref="Decode"/>'s output for one group.</summary>
    public static int DecodedBytes(NBitsShape shape) => Rows * shape.PaddedK;

    /// <summary>
    /// Unpacks rows n..n+7 to one byte per code, in the activations' plane order (byte j of row r pairs with q[j]), so
    /// several tokens can each run a plain u8 × s8 dot against them: for a batch the mask-and-shift work is done once
    /// per group instead of once per token.
    /// </summary>
    public static void Decode(in NBitsOperands o, int n, byte* decoded)
    {
        var shape = o.Shape;
        int bits = shape.Bits;
        int perByte = 8 / bits;
        long rowBytes = shape.RowBytes;
        var mask = Vector256.Create((byte)((1 << bits) - 1));
        for (int r = 0; r < Rows; r++)
        {
            byte* codes = o.B + ((n + r) * rowBytes);
            byte* target = decoded + ((long)r * shape.PaddedK);
            for (int offset = 0; offset < rowBytes; offset += 32)
            {
                var packed = Avx.LoadVector256(codes + offset).AsUInt16();
                byte* planes = target + (offset * perByte);
                for (int plane = 0; plane < perByte; plane++)
                {
                    (Vector256.ShiftRightLogical(packed, plane * bits).AsByte() & mask).Store(planes + (plane * 32));
                }
            }
        }
    }

    /// <summary>
    /// Rows n..n+7 of token t (the operands' segment is 32); <paramref name="vnni"/> picks the form. With
    /// <paramref name="decoded"/> (<see cref="Decode"/>'s output for this group) the packed codes are not read.
    /// </summary>
    public static void Compute(in NBitsOperands o, int n, int t, bool vnni, byte* decoded = null)
    {
        var shape = o.Shape;
        int blocks = shape.KBlocks;
        int blob = shape.BlobBytes;
        int bits = shape.Bits;
        long rowBytes = shape.RowBytes;
        byte* rows = o.B + (n * rowBytes);
        float* s = o.Scales + ((long)n * blocks);
        sbyte* q = o.Q + ((long)t * shape.PaddedK);
        float* blockScales = o.BlockScales + ((long)t * blocks);
        int* blockSums = o.BlockSums + ((long)t * blocks);
        var zeroPoints = Vector256.Create(shape.DefaultZeroPoint);
        var acc = Vector256<float>.Zero;
        for (int block = 0; block < blocks; block++)
        {
            sbyte* x = q + (block * shape.BlockSize);
            Vector256<int> dots;
            if (decoded != null)
            {
                dots = DecodedDots(decoded + (block * shape.BlockSize), shape.PaddedK, x, shape.BlockSize, vnni);
            }
            else
            {
                // Eight interleaved row streams defeat the hardware prefetcher: each block step fetches its share of
                // the next group (contiguous, eight rows), so that group's bytes are arriving while this one computes.
                // Into L2, not L1: on a Zen 4 EPYC the L1 hint left this form at 0.54-0.79x ORT's MatMulNBits, the L2
                // one at 0.87-1.06x (KernelBench --quick --only lowbit, both shapes, 2026-12-08).
                Prefetch(rows + (Rows * rowBytes) + ((long)block * Rows * blob), Rows * blob);
                byte* codes = rows + (block * blob);
                dots = vnni ? DotsVnni(codes, rowBytes, x, blob, bits) : DotsAvx2(codes, rowBytes, x, blob, bits);
            }

            if (o.ZeroPoints != null)
            {
                zeroPoints = RowZeroPoints(o, n, block);
            }

            var exact = dots - (zeroPoints * Vector256.Create(blockSums[block]));
            var weightScales = WeightScales(s, blocks, block);
            acc += Vector256.ConvertToSingle(exact) * (Vector256.Create(blockScales[block]) * weightScales);
        }

        if (o.Bias != null)
        {
            acc += Vector256.Load(o.Bias + n);
        }

        acc.Store(o.Y + ((long)t * shape.N) + n);
    }

    /// <summary>
    /// <see cref="Compute"/> without VNNI for tokens t and t + 1 at once against the decoded group: each weight register
    /// loaded from <paramref name="decoded"/> serves both tokens, and the pmaddubsw pairs are summed in 16 bits over a
    /// block and widened once, where the one-token form widens every step. Every lane does the same integer and float
    /// steps as <see cref="Compute"/>, so the outputs are the same bits. (With VNNI, vpdpbusd already multiplies and
    /// accumulates in one instruction; that form keeps one token per pass, as this was measured on a CPU without it.)
    /// </summary>
    public static void ComputeTwo(in NBitsOperands o, int n, int t, byte* decoded)
    {
        var shape = o.Shape;
        int blocks = shape.KBlocks;
        float* s = o.Scales + ((long)n * blocks);
        sbyte* q0 = o.Q + ((long)t * shape.PaddedK);
        sbyte* q1 = q0 + shape.PaddedK;
        float* blockScales0 = o.BlockScales + ((long)t * blocks);
        float* blockScales1 = blockScales0 + blocks;
        int* blockSums0 = o.BlockSums + ((long)t * blocks);
        int* blockSums1 = blockSums0 + blocks;
        var zeroPoints = Vector256.Create(shape.DefaultZeroPoint);
        var acc0 = Vector256<float>.Zero;
        var acc1 = Vector256<float>.Zero;
        for (int block = 0; block < blocks; block++)
        {
            int offset = block * shape.BlockSize;
            var (low0, low1) = FourRowsTwoTokens(decoded + offset, shape.PaddedK, q0 + offset, q1 + offset, shape.BlockSize);
            var (high0, high1) = FourRowsTwoTokens(decoded + (4L * shape.PaddedK) + offset, shape.PaddedK, q0 + offset, q1 + offset, shape.BlockSize);
            if (o.ZeroPoints != null)
            {
                zeroPoints = RowZeroPoints(o, n, block);
            }

            var weightScales = WeightScales(s, blocks, block);
            var exact0 = Halves(low0, high0) - (zeroPoints * Vector256.Create(blockSums0[block]));
            var exact1 = Halves(low1, high1) - (zeroPoints * Vector256.Create(blockSums1[block]));
            acc0 += Vector256.ConvertToSingle(exact0) * (Vector256.Create(blockScales0[block]) * weightScales);
            acc1 += Vector256.ConvertToSingle(exact1) * (Vector256.Create(blockScales1[block]) * weightScales);
        }

        if (o.Bias != null)
        {
            var bias = Vector256.Load(o.Bias + n);
            acc0 += bias;
            acc1 += bias;
        }

        acc0.Store(o.Y + ((long)t * shape.N) + n);
        acc1.Store(o.Y + ((long)(t + 1) * shape.N) + n);
    }

    /// <summary>
    /// Σ code·q over one block for four decoded rows and two tokens, each row's sums within the 128-bit halves
    /// (<see cref="Quads"/>; <see cref="Halves"/> finishes them). The pmaddubsw pairs are summed in 16 bits over the whole block and
    /// widened once: a pair is at most 2·15·127, and a block of at most 256 codes has 8 steps, so a lane stays within
    /// 8·3810 = 30480.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<int> Token0, Vector256<int> Token1) FourRowsTwoTokens(byte* d, long rowStride, sbyte* x0, sbyte* x1, int blockSize)
    {
        Vector256<short> s0 = default, s1 = default, s2 = default, s3 = default, t0 = default, t1 = default, t2 = default, t3 = default;
        for (int i = 0; i < blockSize; i += 32)
        {
            var xa = Avx.LoadVector256(x0 + i);
            var xb = Avx.LoadVector256(x1 + i);
            byte* p = d + i;
            var w0 = Avx.LoadVector256(p);
            var w1 = Avx.LoadVector256(p + rowStride);
            var w2 = Avx.LoadVector256(p + (2 * rowStride));
            var w3 = Avx.LoadVector256(p + (3 * rowStride));
            s0 += Avx2.MultiplyAddAdjacent(w0, xa);
            t0 += Avx2.MultiplyAddAdjacent(w0, xb);
            s1 += Avx2.MultiplyAddAdjacent(w1, xa);
            t1 += Avx2.MultiplyAddAdjacent(w1, xb);
            s2 += Avx2.MultiplyAddAdjacent(w2, xa);
            t2 += Avx2.MultiplyAddAdjacent(w2, xb);
            s3 += Avx2.MultiplyAddAdjacent(w3, xa);
            t3 += Avx2.MultiplyAddAdjacent(w3, xb);
        }

        var ones = Vector256.Create((short)1);
        var a0 = Avx2.MultiplyAddAdjacent(s0, ones);
        var a1 = Avx2.MultiplyAddAdjacent(s1, ones);
        var a2 = Avx2.MultiplyAddAdjacent(s2, ones);
        var a3 = Avx2.MultiplyAddAdjacent(s3, ones);
        var b0 = Avx2.MultiplyAddAdjacent(t0, ones);
        var b1 = Avx2.MultiplyAddAdjacent(t1, ones);
        var b2 = Avx2.MultiplyAddAdjacent(t2, ones);
        var b3 = Avx2.MultiplyAddAdjacent(t3, ones);
        return (Quads(a0, a1, a2, a3), Quads(b0, b1, b2, b3));
    }

    // Block b's weight scale of each of the eight rows (scales are [N, KBlocks], so a stride of KBlocks between rows).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> WeightScales(float* s, int blocks, int block) => Vector256.Create(
        s[block], s[blocks + block], s[(2 * blocks) + block], s[(3 * blocks) + block],
        s[(4 * blocks) + block], s[(5 * blocks) + block], s[(6 * blocks) + block], s[(7 * blocks) + block]);

    // Four rows' vectors of partial sums to one vector holding each row's sum within each 128-bit half.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Quads(Vector256<int> a0, Vector256<int> a1, Vector256<int> a2, Vector256<int> a3) =>
        Avx2.HorizontalAdd(Avx2.HorizontalAdd(a0, a1), Avx2.HorizontalAdd(a2, a3));

    // Rows 0-3 and rows 4-7 (each row's sums within the 128-bit halves, from Quads) to one vector of eight totals.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Halves(Vector256<int> low, Vector256<int> high) =>
        Avx2.Permute2x128(low, high, 0x20) + Avx2.Permute2x128(low, high, 0x31);

    /// <summary>
    /// Σ code·q over one block for eight rows (AVX-VNNI): <c>vpdpbusd</c> multiplies the unsigned codes by the signed
    /// activations and adds each four products straight into 32-bit lanes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> DotsVnni(byte* c, long rowBytes, sbyte* x, int blobBytes, int bits)
    {
        var mask = Vector256.Create((byte)((1 << bits) - 1));
        Vector256<int> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        for (int segment = 0; segment < blobBytes; segment += 32)
        {
            byte* p = c + segment;
            if (bits == 4)
            {
                sbyte* xs = x + (segment * 2);
                var x0 = Avx.LoadVector256(xs);
                var x1 = Avx.LoadVector256(xs + 32);
                a0 = NibblesVnni(a0, Avx.LoadVector256(p), mask, x0, x1);
                a1 = NibblesVnni(a1, Avx.LoadVector256(p + rowBytes), mask, x0, x1);
                a2 = NibblesVnni(a2, Avx.LoadVector256(p + (2 * rowBytes)), mask, x0, x1);
                a3 = NibblesVnni(a3, Avx.LoadVector256(p + (3 * rowBytes)), mask, x0, x1);
                a4 = NibblesVnni(a4, Avx.LoadVector256(p + (4 * rowBytes)), mask, x0, x1);
                a5 = NibblesVnni(a5, Avx.LoadVector256(p + (5 * rowBytes)), mask, x0, x1);
                a6 = NibblesVnni(a6, Avx.LoadVector256(p + (6 * rowBytes)), mask, x0, x1);
                a7 = NibblesVnni(a7, Avx.LoadVector256(p + (7 * rowBytes)), mask, x0, x1);
            }
            else
            {
                sbyte* xs = x + (segment * 4);
                var x0 = Avx.LoadVector256(xs);
                var x1 = Avx.LoadVector256(xs + 32);
                var x2 = Avx.LoadVector256(xs + 64);
                var x3 = Avx.LoadVector256(xs + 96);
                a0 = CrumbsVnni(a0, Avx.LoadVector256(p), mask, x0, x1, x2, x3);
                a1 = CrumbsVnni(a1, Avx.LoadVector256(p + rowBytes), mask, x0, x1, x2, x3);
                a2 = CrumbsVnni(a2, Avx.LoadVector256(p + (2 * rowBytes)), mask, x0, x1, x2, x3);
                a3 = CrumbsVnni(a3, Avx.LoadVector256(p + (3 * rowBytes)), mask, x0, x1, x2, x3);
                a4 = CrumbsVnni(a4, Avx.LoadVector256(p + (4 * rowBytes)), mask, x0, x1, x2, x3);
                a5 = CrumbsVnni(a5, Avx.LoadVector256(p + (5 * rowBytes)), mask, x0, x1, x2, x3);
                a6 = CrumbsVnni(a6, Avx.LoadVector256(p + (6 * rowBytes)), mask, x0, x1, x2, x3);
                a7 = CrumbsVnni(a7, Avx.LoadVector256(p + (7 * rowBytes)), mask, x0, x1, x2, x3);
            }
        }

        return Reduce(a0, a1, a2, a3, a4, a5, a6, a7);
    }

    /// <summary>
    /// <see cref="DotsVnni"/> without VNNI: pmaddubsw into 16-bit lanes (at most 2·15·127 or 4·2·3·127 per segment,
    /// no saturation), then pmaddwd by ones into 32-bit ones. The same integers.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> DotsAvx2(byte* c, long rowBytes, sbyte* x, int blobBytes, int bits)
    {
        var mask = Vector256.Create((byte)((1 << bits) - 1));
        var ones = Vector256.Create((short)1);
        Vector256<int> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        for (int segment = 0; segment < blobBytes; segment += 32)
        {
            byte* p = c + segment;
            if (bits == 4)
            {
                sbyte* xs = x + (segment * 2);
                var x0 = Avx.LoadVector256(xs);
                var x1 = Avx.LoadVector256(xs + 32);
                a0 += Avx2.MultiplyAddAdjacent(Nibbles(Avx.LoadVector256(p), mask, x0, x1), ones);
                a1 += Avx2.MultiplyAddAdjacent(Nibbles(Avx.LoadVector256(p + rowBytes), mask, x0, x1), ones);
                a2 += Avx2.MultiplyAddAdjacent(Nibbles(Avx.LoadVector256(p + (2 * rowBytes)), mask, x0, x1), ones);
                a3 += Avx2.MultiplyAddAdjacent(Nibbles(Avx.LoadVector256(p + (3 * rowBytes)), mask, x0, x1), ones);
                a4 += Avx2.MultiplyAddAdjacent(Nibbles(Avx.LoadVector256(p + (4 * rowBytes)), mask, x0, x1), ones);
                a5 += Avx2.MultiplyAddAdjacent(Nibbles(Avx.LoadVector256(p + (5 * rowBytes)), mask, x0, x1), ones);
                a6 += Avx2.MultiplyAddAdjacent(Nibbles(Avx.LoadVector256(p + (6 * rowBytes)), mask, x0, x1), ones);
                a7 += Avx2.MultiplyAddAdjacent(Nibbles(Avx.LoadVector256(p + (7 * rowBytes)), mask, x0, x1), ones);
            }
            else
            {
                sbyte* xs = x + (segment * 4);
                var x0 = Avx.LoadVector256(xs);
                var x1 = Avx.LoadVector256(xs + 32);
                var x2 = Avx.LoadVector256(xs + 64);
                var x3 = Avx.LoadVector256(xs + 96);
                a0 += Avx2.MultiplyAddAdjacent(Crumbs(Avx.LoadVector256(p), mask, x0, x1, x2, x3), ones);
                a1 += Avx2.MultiplyAddAdjacent(Crumbs(Avx.LoadVector256(p + rowBytes), mask, x0, x1, x2, x3), ones);
                a2 += Avx2.MultiplyAddAdjacent(Crumbs(Avx.LoadVector256(p + (2 * rowBytes)), mask, x0, x1, x2, x3), ones);
                a3 += Avx2.MultiplyAddAdjacent(Crumbs(Avx.LoadVector256(p + (3 * rowBytes)), mask, x0, x1, x2, x3), ones);
                a4 += Avx2.MultiplyAddAdjacent(Crumbs(Avx.LoadVector256(p + (4 * rowBytes)), mask, x0, x1, x2, x3), ones);
                a5 += Avx2.MultiplyAddAdjacent(Crumbs(Avx.LoadVector256(p + (5 * rowBytes)), mask, x0, x1, x2, x3), ones);
                a6 += Avx2.MultiplyAddAdjacent(Crumbs(Avx.LoadVector256(p + (6 * rowBytes)), mask, x0, x1, x2, x3), ones);
                a7 += Avx2.MultiplyAddAdjacent(Crumbs(Avx.LoadVector256(p + (7 * rowBytes)), mask, x0, x1, x2, x3), ones);
            }
        }

        return Reduce(a0, a1, a2, a3, a4, a5, a6, a7);
    }

    /// <summary>
    /// Σ code·q over one block for eight decoded rows (<paramref name="rowStride"/> bytes apart): vpdpbusd, or
    /// pmaddubsw (two products ≤ 15·127 per 16-bit lane) and pmaddwd by ones without VNNI. The same integers.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> DecodedDots(byte* d, long rowStride, sbyte* x, int blockSize, bool vnni)
    {
        Vector256<int> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        for (int i = 0; i < blockSize; i += 32)
        {
            var xs = Avx.LoadVector256(x + i);
            byte* p = d + i;
            if (vnni)
            {
                a0 = AvxVnni.MultiplyWideningAndAdd(a0, Avx.LoadVector256(p), xs);
                a1 = AvxVnni.MultiplyWideningAndAdd(a1, Avx.LoadVector256(p + rowStride), xs);
                a2 = AvxVnni.MultiplyWideningAndAdd(a2, Avx.LoadVector256(p + (2 * rowStride)), xs);
                a3 = AvxVnni.MultiplyWideningAndAdd(a3, Avx.LoadVector256(p + (3 * rowStride)), xs);
                a4 = AvxVnni.MultiplyWideningAndAdd(a4, Avx.LoadVector256(p + (4 * rowStride)), xs);
                a5 = AvxVnni.MultiplyWideningAndAdd(a5, Avx.LoadVector256(p + (5 * rowStride)), xs);
                a6 = AvxVnni.MultiplyWideningAndAdd(a6, Avx.LoadVector256(p + (6 * rowStride)), xs);
                a7 = AvxVnni.MultiplyWideningAndAdd(a7, Avx.LoadVector256(p + (7 * rowStride)), xs);
            }
            else
            {
                var ones = Vector256.Create((short)1);
                a0 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Avx.LoadVector256(p), xs), ones);
                a1 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Avx.LoadVector256(p + rowStride), xs), ones);
                a2 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Avx.LoadVector256(p + (2 * rowStride)), xs), ones);
                a3 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Avx.LoadVector256(p + (3 * rowStride)), xs), ones);
                a4 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Avx.LoadVector256(p + (4 * rowStride)), xs), ones);
                a5 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Avx.LoadVector256(p + (5 * rowStride)), xs), ones);
                a6 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Avx.LoadVector256(p + (6 * rowStride)), xs), ones);
                a7 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Avx.LoadVector256(p + (7 * rowStride)), xs), ones);
            }
        }

        return Reduce(a0, a1, a2, a3, a4, a5, a6, a7);
    }

    // Eight vectors of partial sums to one vector of eight totals: pairwise adds within 128-bit halves, then the two
    // halves of each group of four added across.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Reduce(Vector256<int> a0, Vector256<int> a1, Vector256<int> a2, Vector256<int> a3, Vector256<int> a4, Vector256<int> a5, Vector256<int> a6, Vector256<int> a7) =>
        Halves(Quads(a0, a1, a2, a3), Quads(a4, a5, a6, a7));

    private static Vector256<int> RowZeroPoints(in NBitsOperands o, int n, int block)
    {
        var shape = o.Shape;
        int zpRow = shape.ZeroPointRowBytes;
        byte* z = o.ZeroPoints + ((long)n * zpRow);
        var values = stackalloc int[Rows];
        for (int r = 0; r < Rows; r++)
        {
            values[r] = shape.ZeroPoint(new ReadOnlySpan<byte>(z + (r * zpRow), zpRow), block);
        }

        return Vector256.Load(values);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Prefetch(byte* start, int bytes)
    {
        for (int line = 0; line < bytes; line += 64)
        {
            Sse.Prefetch1(start + line);
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
}
