using System.Buffers;
using System.Runtime.InteropServices;
using EdgeRuntime.Kernels.LowBit;

namespace EdgeRuntime.Kernels.Ort;

/// <summary>
/// ai.edgeruntime::MatMulNBits: the same inputs and attributes as com.microsoft::MatMulNBits (A float [..., K],
/// B uint8 [N, KBlocks, BlobBytes], scales float [N·KBlocks], optional uint8 zero_points, g_idx (refused), bias; K, N,
/// bits 2|4, block_size 16..256, accuracy_level 4 = int8 activations), so the load-time rewrite only changes a node's
/// domain. Rows are split over the session's intra-op threads.
/// </summary>
internal sealed unsafe class MatMulNBitsOp : CustomOp
{
    private const int RowsPerTask = 64;

    public override string Name => "MatMulNBits";

    public override int[] InputTypes { get; } =
        [OrtElementType.Float, OrtElementType.UInt8, OrtElementType.Float, OrtElementType.UInt8, OrtElementType.Int32, OrtElementType.Float];

    public override int RequiredInputs => 3;

    public override int[] OutputTypes { get; } = [OrtElementType.Float];

    public override OpKernel CreateKernel(KernelInfo info)
    {
        var shape = new NBitsShape(
            N: checked((int)info.RequiredInt64("N")),
            K: checked((int)info.RequiredInt64("K")),
            Bits: checked((int)info.Int64("bits", 4)),
            BlockSize: checked((int)info.RequiredInt64("block_size")));
        shape.Validate();
        var accuracy = info.Int64("accuracy_level", 0) == 4 ? NBitsAccuracy.Int8 : NBitsAccuracy.Float;
        return new Kernel(shape, accuracy);
    }

    private sealed class Kernel(NBitsShape shape, NBitsAccuracy accuracy) : OpKernel
    {
        public override void Compute(KernelContext context)
        {
            var a = context.Input(0);
            var b = context.Input(1);
            var scales = context.Input(2);
            var zeroPoints = context.TryInput(3);
            if (context.TryInput(4) is not null)
            {
                throw new NotSupportedException("g_idx (act-order) is not supported by the fallback; requantize without act-order.");
            }

            var bias = context.TryInput(5);
            if (a.Shape.Length < 1 || a.Shape[^1] != shape.K)
            {
                throw new ArgumentException($"A is [{a.Shape}]; its last dimension must be K = {shape.K}.");
            }

            int m = checked((int)(a.ElementCount / Math.Max(1, shape.K)));
            if (shape.K == 0)
            {
                m = checked((int)a.Shape[..^1].Product());
            }

            NBitsMatMul.Validate(shape, (long)m * shape.K, m, b.ElementCount, scales.ElementCount, zeroPoints?.ElementCount ?? 0, bias?.ElementCount ?? 0, (long)m * shape.N);
            var y = context.Output(0, a.Shape[..^1].Append(shape.N));
            if (m == 0 || shape.N == 0)
            {
                return;
            }

            var (values, blocks) = NBitsMatMul.ScratchSize(shape, m);
            float[] floats = ArrayPool<float>.Shared.Rent(Math.Max(1, accuracy == NBitsAccuracy.Float ? values : blocks));
            sbyte[] quantized = ArrayPool<sbyte>.Shared.Rent(Math.Max(1, accuracy == NBitsAccuracy.Int8 ? values : 1));
            int[] sums = ArrayPool<int>.Shared.Rent(Math.Max(1, blocks));
            try
            {
                fixed (float* f = floats)
                fixed (sbyte* q = quantized)
                fixed (int* s = sums)
                {
                    var work = new Work
                    {
                        Operands = new NBitsOperands
                        {
                            Shape = shape,
                            Accuracy = accuracy,
                            Path = KernelPaths.Best,
                            M = m,
                            X = f,
                            Q = q,
                            BlockScales = f,
                            BlockSums = s,
                            B = (byte*)b.Data,
                            Scales = (float*)scales.Data,
                            ZeroPoints = zeroPoints is { } zp ? (byte*)zp.Data : null,
                            Bias = bias is { } bi ? (float*)bi.Data : null,
                            Y = (float*)y.Data,
                        },
                    };
                    NBitsMatMul.Prepare(ref work.Operands, new ReadOnlySpan<float>(a.Data, m * shape.K));
                    context.ParallelFor(&RunTask, (shape.N + RowsPerTask - 1) / RowsPerTask, &work);
                    if (work.Failed != 0)
                    {
                        throw new InvalidOperationException("a row task failed");
                    }
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(floats);
                ArrayPool<sbyte>.Shared.Return(quantized);
                ArrayPool<int>.Shared.Return(sums);
            }
        }

        [UnmanagedCallersOnly]
        private static void RunTask(void* state, nuint index)
        {
            var work = (Work*)state;
            try
            {
                int start = (int)index * RowsPerTask;
                NBitsMatMul.ComputeRows(work->Operands, start, Math.Min(work->Operands.Shape.N, start + RowsPerTask));
            }
            catch (Exception)
            {
                work->Failed = 1;
            }
        }
    }

    private struct Work
    {
        public NBitsOperands Operands;
        public int Failed;
    }
}
