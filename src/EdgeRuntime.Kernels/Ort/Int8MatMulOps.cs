using System.Buffers;
using System.Runtime.InteropServices;
using EdgeRuntime.Kernels.Int8;

namespace EdgeRuntime.Kernels.Ort;

/// <summary>
/// ai.edgeruntime::MatMulInteger: ONNX MatMulInteger (A [..., M, K], B [K, N], 8-bit, optional zero points) → int32.
/// One registration per (A, B) type pair: ORT picks the kernel by the node's types.
/// </summary>
internal sealed class MatMulIntegerOp(int aType, int bType) : CustomOp
{
    public override string Name => "MatMulInteger";

    public override int[] InputTypes { get; } = [aType, bType, aType, bType];

    public override int RequiredInputs => 2;

    public override int[] OutputTypes { get; } = [OrtElementType.Int32];

    public override OpKernel CreateKernel(KernelInfo info) => new Kernel(Int8Problem.PackConstant(info, 1));

    private sealed class Kernel(PackedHandle packed) : OpKernel, IDisposable
    {
        public override unsafe void Compute(KernelContext context)
        {
            var a = context.Input(0);
            var b = context.Input(1);
            var problem = Int8Problem.Describe(a, b, packed);
            var aZp = Int8Problem.ZeroPoints(context.TryInput(2), a, "a_zero_point", problem.RowsPerMatrix);
            var bZp = Int8Problem.ZeroPoints(context.TryInput(3), b, "b_zero_point", problem.N);
            var y = context.Output(0, problem.OutputShape);
            Int8Problem.Run(context, problem, a, b, aZp, bZp, (int*)y.Data, packed);
        }

        public void Dispose() => packed.Dispose();
    }
}

/// <summary>
/// ai.edgeruntime::QLinearMatMul: ONNX QLinearMatMul. a and y quantized per tensor or per row, b per tensor or per
/// column; the int32 product is requantized with round-half-to-even and saturation, as <see cref="Requantize"/> does.
/// One registration per (a, b) type pair, y typed like a (ORT cannot infer a dynamically typed output from several
/// dynamically typed inputs).
/// </summary>
internal sealed class QLinearMatMulOp(int aType, int bType) : CustomOp
{
    public override string Name => "QLinearMatMul";

    public override int[] InputTypes { get; } =
        [aType, OrtElementType.Float, aType, bType, OrtElementType.Float, bType, OrtElementType.Float, aType];

    public override int[] OutputTypes { get; } = [aType];

    public override OpKernel CreateKernel(KernelInfo info) => new Kernel(Int8Problem.PackConstant(info, 3));

    private sealed class Kernel(PackedHandle packed) : OpKernel, IDisposable
    {
        public void Dispose() => packed.Dispose();

        public override unsafe void Compute(KernelContext context)
        {
            var a = context.Input(0);
            var b = context.Input(3);
            var problem = Int8Problem.Describe(a, b, packed);
            var yZpTensor = context.Input(7);
            bool ySigned = Int8Problem.IsSigned(yZpTensor, "y_zero_point");
            var aScale = Int8Problem.Scales(context.Input(1), "a_scale", problem.RowsPerMatrix);
            var aZp = Int8Problem.ZeroPoints(context.Input(2), a, "a_zero_point", problem.RowsPerMatrix);
            var bScale = Int8Problem.Scales(context.Input(4), "b_scale", problem.N);
            var bZp = Int8Problem.ZeroPoints(context.Input(5), b, "b_zero_point", problem.N);
            var yScale = Int8Problem.Scales(context.Input(6), "y_scale", problem.RowsPerMatrix);
            var yZp = Int8Problem.ZeroPoints(yZpTensor, yZpTensor, "y_zero_point", problem.RowsPerMatrix);
            var y = context.Output(0, problem.OutputShape);
            int total = checked(problem.M * problem.N);
            int[] acc = ArrayPool<int>.Shared.Rent(Math.Max(1, total));
            try
            {
                fixed (int* accumulators = acc)
                {
                    Int8Problem.Run(context, problem, a, b, aZp, bZp, accumulators, packed);
                }

                var output = new Span<byte>(y.Data, total);
                for (int row = 0; row < problem.M; row++)
                {
                    int r = row % problem.RowsPerMatrix;
                    float sa = aScale.Scale(r);
                    float sy = yScale.Scale(r);
                    int zy = yZp.ZeroPoint(r);
                    for (int col = 0; col < problem.N; col++)
                    {
                        float multiplier = Requantize.Multiplier(sa, bScale.Scale(col), sy);
                        output[(row * problem.N) + col] = Requantize.ToByte(acc[(row * problem.N) + col], multiplier, zy, ySigned);
                    }
                }
            }
            finally
            {
                ArrayPool<int>.Shared.Return(acc);
            }
        }
    }
}

/// <summary>Shapes, zero points and the threaded run shared by the two 8-bit ops.</summary>
/// <summary>
/// A zero-point or scale input read in place: absent (zero points: 0), one value, or one per row or column.
/// </summary>
internal readonly unsafe struct QuantParameter(void* data, int count, int elementType)
{
    public int Count => count;

    public int ZeroPoint(int index)
    {
        if (count == 0)
        {
            return 0;
        }

        int i = count == 1 ? 0 : index;
        return elementType == OrtElementType.Int8 ? ((sbyte*)data)[i] : ((byte*)data)[i];
    }

    public float Scale(int index) => ((float*)data)[count == 1 ? 0 : index];
}

/// <summary>A kernel's packed weights and the GCHandle the thread-pool callbacks find them through (one per kernel).</summary>
internal sealed class PackedHandle : IDisposable
{
    private GCHandle _handle;

    private PackedHandle(PackedInt8Weights? weights, bool stored)
    {
        Weights = weights;
        Stored = stored;
        _handle = weights is null ? default : GCHandle.Alloc(weights);
    }

    public PackedInt8Weights? Weights { get; }

    /// <summary>The model stores B packed (attribute packed_b = 1): B's tensor is the packed layout, not [K, N].</summary>
    public bool Stored { get; }

    public nint Pointer => _handle.IsAllocated ? GCHandle.ToIntPtr(_handle) : 0;

    public static PackedHandle For(PackedInt8Weights? weights, bool stored = false) => new(weights, stored);

    public void Dispose()
    {
        if (_handle.IsAllocated)
        {
            _handle.Free();
        }

        Weights?.Dispose();
    }
}

internal readonly record struct Int8Problem(int M, int K, int N, int RowsPerMatrix, bool BatchedB, TensorShape OutputShape)
{
    // Columns per ParallelFor task: a multiple of every path's tile.
    private const int ColumnsPerTask = 256;

    /// <summary>The node attribute that says B is stored in <see cref="PackedInt8Weights"/>' layout (edge-convert --to int8-packed).</summary>
    public const string PackedAttribute = "packed_b";

    /// <summary>
    /// B for the GEMV kernels: read in place when the model stores it packed (packed_b = 1, with attributes K and N),
    /// repacked once when it is a constant 2-D initializer (weights), else none.
    /// </summary>
    public static unsafe PackedHandle PackConstant(KernelInfo info, int index)
    {
        if (info.Int64(PackedAttribute, 0) is var stored && stored != 0)
        {
            if (stored != 1)
            {
                throw new ArgumentException($"{PackedAttribute} is {stored}; it must be 0 or 1.");
            }

            int k = checked((int)info.RequiredInt64("K")), n = checked((int)info.RequiredInt64("N"));
            if (info.ConstantInput(index) is not { } packed || packed.ElementType is not (OrtElementType.UInt8 or OrtElementType.Int8))
            {
                throw new ArgumentException($"With {PackedAttribute} = 1, B must be a uint8 or int8 initializer holding the packed weights (edge-convert --to int8-packed writes it).");
            }

            if (PackedInt8Weights.PackedShape(k, n) is var expected && (packed.Shape.Length != 3 || packed.Shape[0] != expected[0] || packed.Shape[1] != expected[1] || packed.Shape[2] != expected[2]))
            {
                throw new ArgumentException($"The packed B is [{packed.Shape}]; for K = {k}, N = {n} it must be [{string.Join(", ", expected)}].");
            }

            return PackedHandle.For(PackedInt8Weights.Borrow((sbyte*)packed.Data, packed.ElementCount, k, n, packed.ElementType == OrtElementType.Int8), stored: true);
        }

        if (info.ConstantInput(index) is not { } b || b.Shape.Length != 2 || b.ElementType is not (OrtElementType.UInt8 or OrtElementType.Int8))
        {
            return PackedHandle.For(null);
        }

        int rows = checked((int)b.Shape[0]), columns = checked((int)b.Shape[1]);
        return PackedHandle.For(PackedInt8Weights.Pack(new ReadOnlySpan<byte>(b.Data, checked(rows * columns)), rows, columns, b.ElementType == OrtElementType.Int8));
    }

    public static Int8Problem Describe(OrtTensor a, OrtTensor b, PackedHandle packed)
    {
        IsSigned(a, "A");
        IsSigned(b, "B");
        if (a.Shape.Length < 2)
        {
            throw new ArgumentException($"A must be [..., M, K]; it has rank {a.Shape.Length}.");
        }

        if (packed.Stored)
        {
            return DescribeStored(a, packed.Weights!);
        }

        // B is one [K, N] matrix shared by every batch, or one per batch with A's batch dimensions (no broadcasting).
        bool batched = b.Shape.Length > 2;
        if (b.Shape.Length < 2 || (batched && !b.Shape[..^2].SameAs(a.Shape[..^2])))
        {
            throw new NotSupportedException($"B is [{b.Shape}]; the fallback takes [K, N] or B with A's batch dimensions [{a.Shape[..^2]}, K, N].");
        }

        int k = checked((int)a.Shape[^1]);
        if (b.Shape[^2] != k)
        {
            throw new ArgumentException($"A's last dimension is {k} but B has {b.Shape[^2]} rows.");
        }

        int rows = checked((int)a.Shape[^2]);
        int m = checked((int)a.Shape[..^1].Product());
        int n = checked((int)b.Shape[^1]);
        return new Int8Problem(m, k, n, rows, batched, a.Shape[..^1].Append(n));
    }

    // B stored packed: K and N are the node's, and one B serves every batch.
    private static Int8Problem DescribeStored(OrtTensor a, PackedInt8Weights packed)
    {
        if (a.Shape[^1] != packed.K)
        {
            throw new ArgumentException($"A's last dimension is {a.Shape[^1]} but the packed B was made for K = {packed.K}.");
        }

        int m = checked((int)a.Shape[..^1].Product());
        return new Int8Problem(m, packed.K, packed.N, checked((int)a.Shape[^2]), false, a.Shape[..^1].Append(packed.N));
    }

    public static bool IsSigned(OrtTensor tensor, string name) => tensor.ElementType switch
    {
        OrtElementType.UInt8 => false,
        OrtElementType.Int8 => true,
        _ => throw new ArgumentException($"{name} must be uint8 or int8 (ONNX element type {tensor.ElementType})."),
    };

    /// <summary>A zero-point input: absent (0), one value, or one per row/column (<paramref name="count"/>), typed like its tensor.</summary>
    public static unsafe QuantParameter ZeroPoints(OrtTensor? zeroPoint, OrtTensor owner, string name, int count)
    {
        if (zeroPoint is not { } zp)
        {
            return new QuantParameter(null, 0, owner.ElementType);
        }

        if (zp.ElementType != owner.ElementType)
        {
            throw new ArgumentException($"{name} has ONNX element type {zp.ElementType}; it must match its tensor's ({owner.ElementType}).");
        }

        return new QuantParameter(zp.Data, CheckCount(zp.ElementCount, name, count), zp.ElementType);
    }

    public static unsafe QuantParameter Scales(OrtTensor scale, string name, int count) =>
        new(scale.Data, CheckCount(scale.ElementCount, name, count), OrtElementType.Float);

    private static int CheckCount(long length, string name, int count) =>
        length == 1 || length == count ? (int)length : throw new ArgumentException($"{name} holds {length} values; expected 1 or {count}.");

    /// <summary>acc = (A − a_zp)(B − b_zp) into <paramref name="y"/> ([M, N] int32), columns split over ORT's threads.</summary>
    public static unsafe void Run(KernelContext context, Int8Problem problem, OrtTensor a, OrtTensor b, QuantParameter aZeroPoints, QuantParameter bZeroPoints, int* y, PackedHandle packedHandle)
    {
        var packed = packedHandle.Weights;
        if (problem.M == 0 || problem.N == 0)
        {
            return;
        }

        if (packed is not null && !problem.BatchedB && packed.K == problem.K && packed.N == problem.N)
        {
            RunPacked(context, problem, a, aZeroPoints, bZeroPoints, y, packed, packedHandle.Pointer);
            return;
        }

        int paired = (problem.K + 1) & ~1;
        short[] prepared = ArrayPool<short>.Shared.Rent(Math.Max(1, problem.M * paired));
        short[] columnZeroPoints = ArrayPool<short>.Shared.Rent(problem.N + 64);
        try
        {
            for (int row = 0; row < problem.M; row++)
            {
                var tokens = new ReadOnlySpan<byte>((byte*)a.Data + ((long)row * problem.K), problem.K);
                Int8MatMul.PrepareA(tokens, a.ElementType == OrtElementType.Int8, 1, problem.K, [aZeroPoints.ZeroPoint(row % problem.RowsPerMatrix)], prepared.AsSpan(row * paired, paired));
            }

            ExpandColumnZeroPoints(bZeroPoints, problem.N, columnZeroPoints);
            fixed (short* pa = prepared)
            fixed (short* zb = columnZeroPoints)
            {
                // One pass over all rows against a shared B, or one pass per batch against that batch's B.
                int passes = problem.BatchedB ? problem.M / Math.Max(1, problem.RowsPerMatrix) : 1;
                int rowsPerPass = problem.BatchedB ? problem.RowsPerMatrix : problem.M;
                for (int pass = 0; pass < passes; pass++)
                {
                    var work = new Work
                    {
                        Operands = new Int8Operands
                        {
                            Path = KernelPaths.Best,
                            M = rowsPerPass,
                            K = problem.K,
                            N = problem.N,
                            A = pa + ((long)pass * rowsPerPass * paired),
                            B = (byte*)b.Data + ((long)pass * problem.K * problem.N),
                            BSigned = b.ElementType == OrtElementType.Int8,
                            BZeroPoints = zb,
                            Y = y + ((long)pass * rowsPerPass * problem.N),
                        },
                    };
                    context.ParallelFor(&RunTask, (problem.N + ColumnsPerTask - 1) / ColumnsPerTask, &work);
                    if (work.Failed != 0)
                    {
                        throw new InvalidOperationException("a column task failed");
                    }
                }
            }
        }
        finally
        {
            ArrayPool<short>.Shared.Return(prepared);
            ArrayPool<short>.Shared.Return(columnZeroPoints);
        }
    }

    // Tiles per ParallelFor task on the prepacked path (16 tiles = 256 columns).
    private const int TilesPerTask = 16;

    private static void ExpandColumnZeroPoints(QuantParameter zeroPoints, int n, Span<short> expanded)
    {
        for (int col = 0; col < n; col++)
        {
            expanded[col] = (short)zeroPoints.ZeroPoint(col);
        }
    }

    private static unsafe void RunPacked(KernelContext context, Int8Problem problem, OrtTensor a, QuantParameter aZeroPoints, QuantParameter bZeroPoints, int* y, PackedInt8Weights packed, nint handle)
    {
        var path = KernelPaths.Best;
        int[] quads = ArrayPool<int>.Shared.Rent(Math.Max(1, problem.M * 2 * packed.KQuads));
        short[] columnZeroPoints = ArrayPool<short>.Shared.Rent(problem.N);
        var tokens = ArrayPool<PackedInt8MatMul.Token>.Shared.Rent(problem.M);
        int[] offsets = ArrayPool<int>.Shared.Rent(packed.Tiles * PackedInt8Weights.TileColumns);
        int[] terms = ArrayPool<int>.Shared.Rent(2 * problem.M);
        try
        {
            ExpandColumnZeroPoints(bZeroPoints, problem.N, columnZeroPoints);
            bool signed = a.ElementType == OrtElementType.Int8;
            fixed (int* q = quads)
            fixed (short* zb = columnZeroPoints)
            fixed (PackedInt8MatMul.Token* t = tokens)
            fixed (int* columnOffsets = offsets)
            fixed (int* tokenTerms = terms)
            {
                for (int row = 0; row < problem.M; row++)
                {
                    t[row] = new PackedInt8MatMul.Token { Low = q + ((long)row * 2 * packed.KQuads), High = q + ((long)row * 2 * packed.KQuads) + packed.KQuads };
                    int za = aZeroPoints.ZeroPoint(row % problem.RowsPerMatrix);
                    PackedInt8MatMul.Prepare(path, new ReadOnlySpan<byte>((byte*)a.Data + ((long)row * problem.K), problem.K), signed, za, packed.KQuads, problem.M, ref t[row]);
                }

                if (problem.M > 0 && t[0].Native)
                {
                    PackedInt8MatMul.ColumnOffsets(packed, columnZeroPoints.AsSpan(0, problem.N), offsets);
                    PackedInt8MatMul.TokenTerms(t, problem.M, tokenTerms, tokenTerms + problem.M);
                }

                var work = new PackedWork { Path = path, Weights = handle, Tokens = t, M = problem.M, ZeroPoints = zb, N = problem.N, Y = y, ColumnOffsets = columnOffsets, TokenSums = tokenTerms, TokenZeroPoints = tokenTerms + problem.M };
                context.ParallelFor(&RunPackedTask, (packed.Tiles + TilesPerTask - 1) / TilesPerTask, &work);

                if (work.Failed != 0)
                {
                    throw new InvalidOperationException("a column task failed");
                }
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(quads);
            ArrayPool<short>.Shared.Return(columnZeroPoints);
            ArrayPool<PackedInt8MatMul.Token>.Shared.Return(tokens);
            ArrayPool<int>.Shared.Return(offsets);
            ArrayPool<int>.Shared.Return(terms);
        }
    }

    [UnmanagedCallersOnly]
    private static unsafe void RunPackedTask(void* state, nuint index)
    {
        var work = (PackedWork*)state;
        try
        {
            var packed = (PackedInt8Weights)GCHandle.FromIntPtr(work->Weights).Target!;
            int start = (int)index * TilesPerTask;
            int end = Math.Min(packed.Tiles, start + TilesPerTask);
            var zeroPoints = new ReadOnlySpan<short>(work->ZeroPoints, work->N);
            if (work->M > 0 && work->Tokens[0].Native)
            {
                PackedInt8MatMul.ComputeTilesNative(packed, work->Tokens[0].Low, 2L * packed.KQuads, work->TokenSums, work->TokenZeroPoints, work->M, work->ColumnOffsets, work->Y, start, end);
                return;
            }

            // Tile by tile, every token against it: one tile (KQuads·64 bytes) stays in the near caches while the
            // batch passes over it, instead of the task's whole range streaming in again for each token.
            for (int tile = start; tile < end; tile++)
            {
                for (int row = 0; row < work->M; row++)
                {
                    PackedInt8MatMul.ComputeTiles(work->Path, packed, work->Tokens[row], zeroPoints, work->Y + ((long)row * work->N), tile, tile + 1);
                }
            }
        }
        catch (Exception)
        {
            work->Failed = 1;
        }
    }

    private unsafe struct PackedWork
    {
        public KernelPath Path;
        public nint Weights;
        public PackedInt8MatMul.Token* Tokens;
        public int M;
        public short* ZeroPoints;
        public int N;
        public int* Y;
        public int Failed;

        // For the native kernel only: B' per column (Tiles·16) and each token's Σa_u and A'.
        public int* ColumnOffsets;
        public int* TokenSums;
        public int* TokenZeroPoints;
    }

    [UnmanagedCallersOnly]
    private static unsafe void RunTask(void* state, nuint index)
    {
        var work = (Work*)state;
        try
        {
            int start = (int)index * ColumnsPerTask;
            Int8MatMul.ComputeColumns(work->Operands, start, Math.Min(work->Operands.N, start + ColumnsPerTask));
        }
        catch (Exception)
        {
            work->Failed = 1;
        }
    }

    private struct Work
    {
        public Int8Operands Operands;
        public int Failed;
    }
}
