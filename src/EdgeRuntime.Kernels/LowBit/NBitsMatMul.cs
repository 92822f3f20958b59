using System.Buffers;
using EdgeRuntime.Kernels.Native;

namespace EdgeRuntime.Kernels.LowBit;

/// <summary>The pointers and sizes one MatMulNBits evaluation works on; rows can be split across threads.</summary>
public unsafe struct NBitsOperands
{
    public NBitsShape Shape;
    public NBitsAccuracy Accuracy;
    public KernelPath Path;

    /// <summary>Segment width the activations were laid out for (see <see cref="NBitsDot"/>); 0 = natural order.</summary>
    public int Segment;

    /// <summary>Set by <see cref="NBitsMatMul.Prepare"/>: the rows run in libedgekernels' batch kernel.</summary>
    public bool Native;
    public int M;

    /// <summary>Float mode: the tokens, m × PaddedK floats in plane order, zero past K.</summary>
    public float* X;

    /// <summary>Int8 mode: the quantized tokens (m × PaddedK, plane order), block scales and block sums (m × KBlocks).</summary>
    public sbyte* Q;
    public float* BlockScales;
    public int* BlockSums;

    public byte* B;
    public float* Scales;

    /// <summary>Packed zero points, or null for the default.</summary>
    public byte* ZeroPoints;

    /// <summary>Per-output bias, or null.</summary>
    public float* Bias;
    public float* Y;
}

/// <summary>
/// MatMulNBits (bits 2 and 4, block sizes 16–256, optional zero points and bias) in float or int8-activation mode.
/// <see cref="Prepare"/> lays out or quantizes the tokens once; <see cref="ComputeRows"/> then produces any range of
/// output rows, so callers can split rows across threads. The int8 mode equals <see cref="NBitsReference"/> bit for bit
/// on every path; the float mode sums in a different order and agrees to float rounding.
/// </summary>
public static unsafe class NBitsMatMul
{
    /// <summary>Scratch sizes for m tokens: floats (float mode) or sbytes, floats and ints (int8 mode).</summary>
    public static (int Values, int Blocks) ScratchSize(NBitsShape shape, int m) => (m * shape.PaddedK, m * shape.KBlocks);

    /// <summary>
    /// Whether m tokens run in libedgekernels' batch kernel: 4-bit codes in int8 mode, two tokens or more (one token
    /// waits on memory, and the C# forms read the packed codes directly), on a 256- or 512-bit path with AVX-512 VNNI or
    /// on AdvSimd with I8MM, in a process whose choice includes the native kernels. <paramref name="allowNative"/> false
    /// keeps the C# forms (tests compare both).
    /// </summary>
    public static bool UsesNative(NBitsShape shape, NBitsAccuracy accuracy, KernelPath path, int m, bool allowNative = true) =>
        allowNative && m > 1 && shape.Bits == 4 && accuracy == NBitsAccuracy.Int8 && shape.KBlocks > 0
        && (KernelPaths.NativeAvx512Vnni(path) || KernelPaths.NativeI8mm(path));

    /// <summary>Fills the operands' X (float mode) or Q/BlockScales/BlockSums (int8 mode) from natural-order tokens.</summary>
    public static void Prepare(ref NBitsOperands operands, ReadOnlySpan<float> x, bool allowNative = true)
    {
        var shape = operands.Shape;
        int paddedK = shape.PaddedK;
        operands.Native = UsesNative(shape, operands.Accuracy, operands.Path, operands.M, allowNative);

        // The native kernel pairs each packed dword (eight codes, even ones in the low nibbles) with two activation
        // quads: the even values, then the odd ones, which is plane order over 4-byte segments.
        operands.Segment = operands.Native ? 4 : NBitsDot.SegmentBytes(operands.Path, shape.BlobBytes, operands.Accuracy);
        if (operands.Accuracy == NBitsAccuracy.Int8)
        {
            sbyte[] natural = ArrayPool<sbyte>.Shared.Rent(Math.Max(1, paddedK));
            try
            {
                for (int t = 0; t < operands.M; t++)
                {
                    var scales = new Span<float>(operands.BlockScales + (t * shape.KBlocks), shape.KBlocks);
                    var sums = new Span<int>(operands.BlockSums + (t * shape.KBlocks), shape.KBlocks);
                    if (operands.Path == KernelPath.Scalar)
                    {
                        BlockQuantizer.Quantize(x.Slice(t * shape.K, shape.K), shape.BlockSize, natural, scales, sums);
                    }
                    else
                    {
                        BlockQuantizer.QuantizeVector(x.Slice(t * shape.K, shape.K), shape.BlockSize, natural, scales, sums);
                    }

                    var planes = new Span<sbyte>(operands.Q + ((long)t * paddedK), paddedK);
                    if (operands.Native)
                    {
                        NBitsDot.EvenThenOdd(natural.AsSpan(0, paddedK), planes);
                    }
                    else
                    {
                        NBitsDot.ToPlanes<sbyte>(natural.AsSpan(0, paddedK), planes, shape.Bits, operands.Segment);
                    }
                }
            }
            finally
            {
                ArrayPool<sbyte>.Shared.Return(natural);
            }

            return;
        }

        float[] padded = ArrayPool<float>.Shared.Rent(Math.Max(1, paddedK));
        try
        {
            for (int t = 0; t < operands.M; t++)
            {
                x.Slice(t * shape.K, shape.K).CopyTo(padded);
                padded.AsSpan(shape.K, paddedK - shape.K).Clear();
                NBitsDot.ToPlanes<float>(padded.AsSpan(0, paddedK), new Span<float>(operands.X + ((long)t * paddedK), paddedK), shape.Bits, operands.Segment);
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(padded);
        }
    }

    /// <summary>Output rows [rowStart, rowEnd) for every token.</summary>
    public static void ComputeRows(in NBitsOperands o, int rowStart, int rowEnd)
    {
        var shape = o.Shape;
        int blocks = shape.KBlocks;
        int blob = shape.BlobBytes;
        int paddedK = shape.PaddedK;
        if (o.Native)
        {
            ComputeRowsNative(o, rowStart, rowEnd);
            return;
        }

        int first = rowStart;
        if (o.Accuracy == NBitsAccuracy.Int8 && o.Segment == 32)
        {
            first = EightRowGroups(o, rowStart, rowEnd);
        }

        for (int n = first; n < rowEnd; n++)
        {
            byte* row = o.B + ((long)n * shape.RowBytes);
            float* scales = o.Scales + ((long)n * blocks);
            var zpRow = o.ZeroPoints == null ? default : new ReadOnlySpan<byte>(o.ZeroPoints + ((long)n * shape.ZeroPointRowBytes), shape.ZeroPointRowBytes);
            for (int t = 0; t < o.M; t++)
            {
                float sum = 0;
                if (o.Accuracy == NBitsAccuracy.Int8)
                {
                    sbyte* q = o.Q + ((long)t * paddedK);
                    float* blockScales = o.BlockScales + ((long)t * blocks);
                    int* blockSums = o.BlockSums + ((long)t * blocks);
                    for (int block = 0; block < blocks; block++)
                    {
                        int dot = o.Segment == 0
                            ? ScalarInt8Block(shape, row + (block * blob), q + (block * shape.BlockSize))
                            : NBitsDot.Int8Block(o.Path, o.Segment, row + (block * blob), q + (block * shape.BlockSize), blob, shape.Bits);
                        sum += (dot - (shape.ZeroPoint(zpRow, block) * blockSums[block])) * (blockScales[block] * scales[block]);
                    }
                }
                else
                {
                    float* x = o.X + ((long)t * paddedK);
                    for (int block = 0; block < blocks; block++)
                    {
                        int zp = shape.ZeroPoint(zpRow, block);
                        float blockSum = o.Segment == 0
                            ? ScalarFloatBlock(shape, row + (block * blob), x + (block * shape.BlockSize), zp)
                            : NBitsDot.FloatBlock(row + (block * blob), x + (block * shape.BlockSize), blob, shape.Bits, zp);
                        sum += blockSum * scales[block];
                    }
                }

                o.Y[((long)t * shape.N) + n] = o.Bias == null ? sum : sum + o.Bias[n];
            }
        }
    }

    /// <summary>The whole operator on one thread with pooled scratch (tests and tools; the custom op splits rows).</summary>
    public static void Compute(KernelPath path, NBitsShape shape, NBitsAccuracy accuracy, ReadOnlySpan<float> x, int m, ReadOnlySpan<byte> b, ReadOnlySpan<float> scales, ReadOnlySpan<byte> zeroPoints, ReadOnlySpan<float> bias, Span<float> y, bool allowNative = true)
    {
        Validate(shape, x.Length, m, b.Length, scales.Length, zeroPoints.Length, bias.Length, y.Length);
        var (values, blockCount) = ScratchSize(shape, m);
        float[] floats = ArrayPool<float>.Shared.Rent(Math.Max(1, accuracy == NBitsAccuracy.Float ? values : blockCount));
        sbyte[] quantized = ArrayPool<sbyte>.Shared.Rent(Math.Max(1, values));
        int[] sums = ArrayPool<int>.Shared.Rent(Math.Max(1, blockCount));
        try
        {
            fixed (float* f = floats)
            fixed (sbyte* q = quantized)
            fixed (int* s = sums)
            fixed (byte* weights = b)
            fixed (float* sc = scales)
            fixed (byte* zp = zeroPoints)
            fixed (float* bi = bias)
            fixed (float* output = y)
            {
                var operands = new NBitsOperands
                {
                    Shape = shape,
                    Accuracy = accuracy,
                    Path = path,
                    M = m,
                    X = f,
                    Q = q,
                    BlockScales = f,
                    BlockSums = s,
                    B = weights,
                    Scales = sc,
                    ZeroPoints = zeroPoints.IsEmpty ? null : zp,
                    Bias = bias.IsEmpty ? null : bi,
                    Y = output,
                };
                Prepare(ref operands, x, allowNative);
                ComputeRows(operands, 0, shape.N);
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(floats);
            ArrayPool<sbyte>.Shared.Return(quantized);
            ArrayPool<int>.Shared.Return(sums);
        }
    }

    /// <summary>Checks every buffer against the shape; the message names the one that disagrees.</summary>
    public static void Validate(NBitsShape shape, long xLength, int m, long bLength, long scalesLength, long zeroPointsLength, long biasLength, long yLength)
    {
        shape.Validate();
        if (m < 0 || xLength != (long)m * shape.K)
        {
            throw new ArgumentException($"MatMulNBits A has {xLength} values; expected {m}x{shape.K}.");
        }

        if (bLength != (long)shape.N * shape.RowBytes)
        {
            throw new ArgumentException($"MatMulNBits B has {bLength} bytes; N={shape.N}, K={shape.K}, bits={shape.Bits}, block_size={shape.BlockSize} take {(long)shape.N * shape.RowBytes} ([N, {shape.KBlocks}, {shape.BlobBytes}]).");
        }

        if (scalesLength != (long)shape.N * shape.KBlocks)
        {
            throw new ArgumentException($"MatMulNBits scales has {scalesLength} values; expected N x KBlocks = {shape.N}x{shape.KBlocks}.");
        }

        if (zeroPointsLength != 0 && zeroPointsLength != (long)shape.N * shape.ZeroPointRowBytes)
        {
            throw new ArgumentException($"MatMulNBits zero_points has {zeroPointsLength} bytes; expected packed uint8 [{shape.N}, {shape.ZeroPointRowBytes}].");
        }

        if (biasLength != 0 && biasLength != shape.N)
        {
            throw new ArgumentException($"MatMulNBits bias has {biasLength} values; expected N = {shape.N}.");
        }

        if (yLength != (long)m * shape.N)
        {
            throw new ArgumentException($"MatMulNBits output has {yLength} values; expected {m}x{shape.N}.");
        }
    }

    // Rows [rowStart, rowEnd) of every token in one call: the kernel decodes each chunk of 64 rows once for all tokens.
    private static void ComputeRowsNative(in NBitsOperands o, int rowStart, int rowEnd)
    {
        var shape = o.Shape;
        NativeKernels.NBits4Int8MatMul(
            o.B + ((long)rowStart * shape.RowBytes),
            rowEnd - rowStart,
            shape.KBlocks,
            shape.BlockSize,
            o.Scales + ((long)rowStart * shape.KBlocks),
            o.ZeroPoints == null ? null : o.ZeroPoints + ((long)rowStart * shape.ZeroPointRowBytes),
            (int*)o.Q,
            shape.PaddedK / 4,
            o.BlockScales,
            o.BlockSums,
            o.M,
            o.Bias == null ? null : o.Bias + rowStart,
            o.Y + rowStart,
            shape.N);
    }

    // The x64 int8 form over whole groups of eight rows; returns the first row it left for the one-row loop. One token
    // reads the packed codes directly; a batch decodes each group once and runs every token against it (two at a time without VNNI).
    private static int EightRowGroups(in NBitsOperands o, int rowStart, int rowEnd)
    {
        bool vnni = NBitsEightRows.UsesVnni;
        int first = rowStart;
        if (o.M == 1)
        {
            for (; first + NBitsEightRows.Rows <= rowEnd; first += NBitsEightRows.Rows)
            {
                NBitsEightRows.Compute(o, first, 0, vnni);
            }

            return first;
        }

        byte[] buffer = ArrayPool<byte>.Shared.Rent(NBitsEightRows.DecodedBytes(o.Shape));
        try
        {
            fixed (byte* decoded = buffer)
            {
                for (; first + NBitsEightRows.Rows <= rowEnd; first += NBitsEightRows.Rows)
                {
                    NBitsEightRows.Decode(o, first, decoded);
                    int t = 0;
                    for (; !vnni && t + 2 <= o.M; t += 2)
                    {
                        NBitsEightRows.ComputeTwo(o, first, t, decoded);
                    }

                    for (; t < o.M; t++)
                    {
                        NBitsEightRows.Compute(o, first, t, vnni, decoded);
                    }
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        return first;
    }

    private static int ScalarInt8Block(NBitsShape shape, byte* codes, sbyte* q)
    {
        int perByte = shape.ValuesPerByte;
        int mask = shape.CodeMask;
        int dot = 0;
        for (int i = 0; i < shape.BlockSize; i++)
        {
            dot += ((codes[i / perByte] >> ((i % perByte) * shape.Bits)) & mask) * q[i];
        }

        return dot;
    }

    private static float ScalarFloatBlock(NBitsShape shape, byte* codes, float* x, int zeroPoint)
    {
        int perByte = shape.ValuesPerByte;
        int mask = shape.CodeMask;
        float sum = 0;
        for (int i = 0; i < shape.BlockSize; i++)
        {
            sum += (((codes[i / perByte] >> ((i % perByte) * shape.Bits)) & mask) - zeroPoint) * x[i];
        }

        return sum;
    }
}
