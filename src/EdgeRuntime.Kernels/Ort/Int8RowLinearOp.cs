using System.Runtime.InteropServices;
using EdgeRuntime.Kernels.Int8;

namespace EdgeRuntime.Kernels.Ort;

/// <summary>
/// ai.edgeruntime::Int8RowLinear(X float[..., K], W int8[N, K], scales float[N]) -> Y float[..., N], with
/// Y[t, n] = scales[n] · Σ_k W[n, k] · X[t, k] (<see cref="Int8RowLinear"/>): the tied output head over an
/// <see cref="Int8Rows"/> embedding table. Output rows are split over the session's intra-op threads.
/// </summary>
internal sealed unsafe class Int8RowLinearOp : CustomOp
{
    // Rows per ParallelFor task: 256 rows of K = 2560 are 640 KiB, plenty to amortise a hand-off, and a 128256-row
    // vocabulary still makes 500 tasks to balance over the threads.
    private const int RowsPerTask = 256;

    public override string Name => "Int8RowLinear";

    public override int[] InputTypes { get; } = [OrtElementType.Float, OrtElementType.Int8, OrtElementType.Float];

    public override int RequiredInputs => 3;

    public override int[] OutputTypes { get; } = [OrtElementType.Float];

    public override OpKernel CreateKernel(KernelInfo info) => Kernel.Instance;

    private static void Compute(KernelContext context)
    {
        var x = context.Input(0);
        var w = context.Input(1);
        var scales = context.Input(2);
        if (x.Shape.Length < 1)
        {
            throw new ArgumentException("X must have at least one dimension (…, K).");
        }

        if (w.Shape.Length != 2)
        {
            throw new ArgumentException($"W must be [N, K]; it has rank {w.Shape.Length}.");
        }

        int k = checked((int)x.Shape[^1]);
        int n = checked((int)w.Shape[0]);
        if (w.Shape[1] != k)
        {
            throw new ArgumentException($"W is [{n}, {w.Shape[1]}], but X's last dimension is K={k}.");
        }

        if (scales.ElementCount != n)
        {
            throw new ArgumentException($"scales holds {scales.ElementCount} values; expected one per row of W ({n}).");
        }

        int m = checked((int)x.Shape[..^1].Product());
        var y = context.Output(0, x.Shape[..^1].Append(n));
        if (m == 0 || n == 0)
        {
            return;
        }

        var work = new Work
        {
            Path = KernelPaths.Best,
            X = (float*)x.Data,
            M = m,
            K = k,
            W = (sbyte*)w.Data,
            Scales = (float*)scales.Data,
            Y = (float*)y.Data,
            N = n,
        };
        context.ParallelFor(&RunTask, (n + RowsPerTask - 1) / RowsPerTask, &work);
        if (work.Failed != 0)
        {
            throw new InvalidOperationException("a row task failed");
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
            Int8RowLinear.ComputeRows(work->Path, work->X, work->M, work->K, work->W, work->Scales, work->Y, work->N, start, end);
        }
        catch (Exception)
        {
            // Reported by Compute after ParallelFor returns; an exception must not cross into ORT's thread pool.
            work->Failed = 1;
        }
    }

    private sealed class Kernel : OpKernel
    {
        public static readonly Kernel Instance = new();

        public override void Compute(KernelContext context) => Int8RowLinearOp.Compute(context);
    }

    private struct Work
    {
        public KernelPath Path;
        public float* X;
        public int M;
        public int K;
        public sbyte* W;
        public float* Scales;
        public float* Y;
        public int N;
        public int Failed;
    }
}
