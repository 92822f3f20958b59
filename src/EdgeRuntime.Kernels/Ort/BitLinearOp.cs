using System.Buffers;
using System.Runtime.InteropServices;
using EdgeRuntime.Kernels.Ternary;

namespace EdgeRuntime.Kernels.Ort;

/// <summary>
/// ai.edgeruntime::BitLinear(X float[..., K], W uint8[N, RowBytes(K)], beta float[1] or float[N], bias float[N]?) -> Y float[..., N],
/// attribute trits_per_byte 4 (default) or 5. W is packed as <see cref="TernaryPacking"/> describes (2 bits a weight) or,
/// with trits_per_byte = 5, as <see cref="TritPacking"/> does (1.6 bits), then shaped [N, ceil(K/160), 32]; beta is the weight scale of the whole tensor, or one per
/// output row when several projections of the same input are fused into one op (q, k and v). The optional bias (converted nn.Linear layers have one) is
/// added to every token's output. The output rows are split over the session's intra-op
/// threads with ORT's ParallelFor, so the op stays within the session's thread budget.
/// </summary>
internal sealed unsafe class BitLinearOp : CustomOp
{
    // Rows per ParallelFor task: enough work per task (64 rows of K=2560 is 40 KiB of weights) to amortise the hand-off.
    private const int RowsPerTask = 64;

    public override string Name => "BitLinear";

    public override int[] InputTypes { get; } = [OrtElementType.Float, OrtElementType.UInt8, OrtElementType.Float, OrtElementType.Float];

    public override int RequiredInputs => 3;

    public override int[] OutputTypes { get; } = [OrtElementType.Float];

    public override OpKernel CreateKernel(KernelInfo info) =>
        new Kernel(TernaryLayouts.FromTritsPerByte(info.Int64(TernaryLayouts.AttributeName, (long)TernaryLayout.FourPerByte)));

    private static void Compute(KernelContext context, TernaryLayout layout)
    {
        var x = context.Input(0);
        var w = context.Input(1);
        var beta = context.Input(2);
        var bias = context.TryInput(3);
        if (x.Shape.Length < 1)
        {
            throw new ArgumentException("X must have at least one dimension (…, K).");
        }

        int expectedRank = layout == TernaryLayout.FivePerByte ? 3 : 2;
        if (w.Shape.Length != expectedRank)
        {
            throw new ArgumentException(layout == TernaryLayout.FivePerByte
                ? $"W must be [N, blocks, 32] with trits_per_byte 5 (five weights a byte); it has rank {w.Shape.Length}."
                : $"W must be [N, RowBytes]; it has rank {w.Shape.Length} (rank 3 is the 1.6-bit layout, which needs trits_per_byte 5).");
        }

        int k = checked((int)x.Shape[^1]);
        int n = checked((int)w.Shape[0]);
        if (beta.ElementCount != 1 && beta.ElementCount != n)
        {
            throw new ArgumentException($"beta must hold one value (a per-tensor scale) or one per row of W ({n}); it holds {beta.ElementCount}.");
        }

        if (bias is { } b && b.ElementCount != n)
        {
            throw new ArgumentException($"bias holds {b.ElementCount} values; expected N = {n}.");
        }

        int m = checked((int)x.Shape[..^1].Product());
        Span<long> expected = stackalloc long[TernaryLayouts.MaxWeightRank];
        expected = expected[..layout.WeightShape(n, k, expected)];
        var wShape = w.Shape;
        if (!wShape.Dimensions.SequenceEqual(expected))
        {
            string blocks = layout == TernaryLayout.FivePerByte ? "five weights a byte, blocks of 160 weights, 32 bytes each" : "blocks of 256 weights, 64 bytes each";
            throw new ArgumentException($"W is [{wShape}], but K={k} packs into [{string.Join(", ", expected.ToArray())}] ({layout.RowBytes(k)} bytes per row; trits_per_byte {(int)layout}: {blocks}).");
        }

        var y = context.Output(0, x.Shape[..^1].Append(n));
        if (m == 0 || n == 0)
        {
            return;
        }

        if (k == 0)
        {
            // An empty sum: every output is zero (plus the bias).
            new Span<float>(y.Data, checked(m * n)).Clear();
            AddBias(bias, (float*)y.Data, m, n);
            return;
        }

        int padded = layout.PaddedK(k);
        sbyte[] quantized = ArrayPool<sbyte>.Shared.Rent(checked((m * padded) + BitLinear.ActivationAlignment));
        float[] scales = ArrayPool<float>.Shared.Rent(m);
        int[] sums = ArrayPool<int>.Shared.Rent(m);
        try
        {
            var path = KernelPaths.Best;
            fixed (sbyte* pinned = quantized)
            fixed (float* s = scales)
            fixed (int* sum = sums)
            {
                sbyte* q = BitLinear.AlignActivations(pinned);
                BitLinear.Quantize(path, new ReadOnlySpan<float>(x.Data, m * k), m, k, new Span<sbyte>(q, m * padded), scales, sums, layout);
                var work = new Work
                {
                    Path = path,
                    Quantized = q,
                    M = m,
                    K = k,
                    Scales = s,
                    Sums = sum,
                    Weights = (byte*)w.Data,
                    Betas = (float*)beta.Data,
                    BetaStride = beta.ElementCount == 1 ? 0 : 1,
                    Y = (float*)y.Data,
                    N = n,
                    Layout = layout,
                };
                int tasks = (n + RowsPerTask - 1) / RowsPerTask;
                context.ParallelFor(&RunTask, tasks, &work);
                if (work.Failed != 0)
                {
                    throw new InvalidOperationException("a row task failed");
                }

                AddBias(bias, (float*)y.Data, m, n);
            }
        }
        finally
        {
            ArrayPool<sbyte>.Shared.Return(quantized);
            ArrayPool<float>.Shared.Return(scales);
            ArrayPool<int>.Shared.Return(sums);
        }
    }

    private static void AddBias(OrtTensor? bias, float* y, int m, int n)
    {
        if (bias is not { } b)
        {
            return;
        }

        var values = new ReadOnlySpan<float>(b.Data, n);
        for (int t = 0; t < m; t++)
        {
            var row = new Span<float>(y + ((long)t * n), n);
            System.Numerics.Tensors.TensorPrimitives.Add(row, values, row);
        }
    }

    [UnmanagedCallersOnly]
    private static void RunTask(void* state, nuint index)
    {
        var work = (Work*)state;
        try
        {
            int start = (int)index * RowsPerTask;
            int end = Math.Min(work->N, start + RowsPerTask);
            BitLinear.ComputeRows(work->Path, work->Quantized, work->M, work->K, new ReadOnlySpan<float>(work->Scales, work->M), new ReadOnlySpan<int>(work->Sums, work->M), work->Weights, work->Betas, work->BetaStride, work->Y, work->N, start, end, work->Layout);
        }
        catch (Exception)
        {
            // Reported by Compute after ParallelFor returns; an exception must not cross into ORT's thread pool.
            work->Failed = 1;
        }
    }

    private sealed class Kernel(TernaryLayout layout) : OpKernel
    {
        public override void Compute(KernelContext context) => BitLinearOp.Compute(context, layout);
    }

    private struct Work
    {
        public KernelPath Path;
        public sbyte* Quantized;
        public int M;
        public int K;
        public float* Scales;
        public int* Sums;
        public byte* Weights;
        public float* Betas;
        public int BetaStride;
        public float* Y;
        public int N;
        public TernaryLayout Layout;
        public int Failed;
    }
}
