using System.Buffers;
using System.Runtime.Intrinsics;
using EdgeRuntime.Kernels.Native;

namespace EdgeRuntime.Kernels.Ternary;

/// <summary>
/// BitNet b1.58's BitLinear (W1.58 A8): y[t, n] = (Σ_k w[n,k]·x_q[t,k]) / s_t · β, with x_q and s_t from
/// <see cref="ActivationQuantizer"/>, ternary weights packed by <see cref="TernaryPacking"/> and one per-tensor
/// weight scale β. Integer accumulation is exact, so every path, and either <see cref="TernaryLayout"/> of the same
/// weights, gives bit-identical outputs.
/// Use: <see cref="Quantize"/> the tokens once, then <see cref="ComputeRows"/> over disjoint row ranges, possibly on
/// several threads.
/// </summary>
public static unsafe class BitLinear
{
    // Weight rows per prefill block: 64 rows of K = 2560 are 40 KB of packed weights.
    private const int RowBlock = 64;

    // The 1.6-bit kernel's exact division by 256 holds for a padded K below 2^19 (edge_kernels.h); no real layer comes
    // near it, and a longer row takes the C# forms.
    private const int NativeTritLimit = 1 << 19;

    // The 2-bit one-token kernel keeps 4^j times each code's share in its lanes (native/kernels/x64_avx512vnni.c); that
    // stays within int32 for rows below 2^22 weights (edge_kernels.h). No real layer comes near it.
    private const int NativeTwoBitGemvLimit = 1 << 22;

    // Tokens per native call: their dot products for one row block (16 x 64 ints) are a 4 KB stack buffer.
    private const int NativeTokens = 16;

    /// <summary>
    /// Whether a native kernel computes <paramref name="m"/> tokens of length <paramref name="k"/> in
    /// <paramref name="layout"/> on <paramref name="path"/> in this process. With AVX-512 VNNI: any number of tokens in
    /// the 2-bit layout (one token: a padded K below 2^22), one token in the 1.6-bit one (a padded K below 2^19). With
    /// arm64's I8MM: batches in the 2-bit layout. <paramref name="allowNative"/> false keeps the C# forms (tests compare
    /// both).
    /// </summary>
    public static bool UsesNative(KernelPath path, TernaryLayout layout, int m, int k, bool allowNative = true) =>
        allowNative && (KernelPaths.NativeAvx512Vnni(path)
            ? (layout == TernaryLayout.FivePerByte ? m == 1 && layout.PaddedK(k) < NativeTritLimit : m > 1 || (m == 1 && layout.PaddedK(k) < NativeTwoBitGemvLimit))
            : KernelPaths.NativeI8mm(path) && layout != TernaryLayout.FivePerByte && m > 1);

    /// <summary>Bytes to rent beyond the quantized rows, so that <see cref="AlignActivations"/> can start them on a cache line.</summary>
    public const int ActivationAlignment = 64;

    /// <summary>
    /// The first 64-byte boundary at or after <paramref name="pinned"/>: where the quantized rows go. Every padded K is a
    /// multiple of 32 (2-bit: 256; 1.6-bit: 160), so each token's row starts on a 32-byte boundary and no 256-bit load of
    /// it crosses a cache line. It matters for speed, not results: with activations one byte off a line, the native
    /// one-token 2-bit kernel streamed its weights at half the speed (a scratch harness, 2560x6912, two threads: 203-210
    /// against 112 us), its split loads holding the line-fill slots the weights needed.
    /// </summary>
    public static sbyte* AlignActivations(sbyte* pinned) => (sbyte*)(((nint)pinned + (ActivationAlignment - 1)) & ~(nint)(ActivationAlignment - 1));

    /// <summary>Quantizes m tokens of k floats into rows of the layout's padded K (<see cref="TernaryLayouts.PaddedK"/>) bytes.</summary>
    public static void Quantize(KernelPath path, ReadOnlySpan<float> x, int m, int k, Span<sbyte> quantized, Span<float> scales, Span<int> sums, TernaryLayout layout = TernaryLayout.FourPerByte)
    {
        int padded = layout.PaddedK(k);
        for (int t = 0; t < m; t++)
        {
            var row = quantized.Slice(t * padded, padded);
            scales[t] = ActivationQuantizer.Quantize(x.Slice(t * k, k), row, path, out sums[t]);
        }
    }

    /// <summary>
    /// Output rows [rowStart, rowEnd) for all m tokens. Row r's weight scale is <c>betas[r · betaStride]</c>: stride 0
    /// for one scale per tensor, 1 for a scale per row (several projections of the same input fused into one).
    /// </summary>
    public static void ComputeRows(KernelPath path, sbyte* quantized, int m, int k, ReadOnlySpan<float> scales, ReadOnlySpan<int> sums, byte* packed, float* betas, int betaStride, float* y, int n, int rowStart, int rowEnd, TernaryLayout layout = TernaryLayout.FourPerByte, bool allowNative = true)
    {
        int padded = layout.PaddedK(k);
        int rowBytes = layout.RowBytes(k);
        // With AVX-512 VNNI one token takes a native kernel in either layout. The 2-bit one streams the weights (a row at a
        // time, prefetching, no shifts; native/kernels/x64_avx512vnni.c): against bitnet.cpp's I2_S in the same runs it
        // measured 1.24-2.02x (worse shape 1.24-1.63x, ten runs) where this C# form measured 1.02-1.18x (KernelBench
        // --quick --only bitlinear, 2560x6912 and 6912x2560, two threads, 2026-12-07 and 08). The 1.6-bit one skips
        // unpacking as the C# AVX-VNNI form does, on 512 bits. 1.6-bit batches stay in C#.
        if (UsesNative(path, layout, m, k, allowNative))
        {
            if (m == 1)
            {
                ComputeOneTokenNative(layout, quantized, scales[0], sums[0], packed, rowBytes, betas, betaStride, y, rowStart, rowEnd);
            }
            else
            {
                ComputeRowsNative(quantized, m, padded, scales, sums, packed, rowBytes, betas, betaStride, y, n, rowStart, rowEnd);
            }

            return;
        }

        // As TernaryLayouts sizes them: anything but the 1.6-bit layout is the 2-bit one.
        bool twoBit = layout != TernaryLayout.FivePerByte;
        Span<int> four = stackalloc int[4];
        Span<int> second = stackalloc int[4];
        int first = rowStart;
        if (m == 1)
        {
            // Decode (one token): four rows at a time share the activation loads and the loop overhead.
            for (; first + 4 <= rowEnd; first += 4)
            {
                byte* w = packed + ((long)first * rowBytes);
                if (twoBit)
                {
                    TernaryDot.FourRows(path, w, rowBytes, quantized, sums[0], four);
                }
                else
                {
                    TritDot.FourRows(path, w, rowBytes, quantized, sums[0], KernelPaths.Vnni, four);
                }

                for (int i = 0; i < 4; i++)
                {
                    y[first + i] = Output(four[i], scales[0], betas[(first + i) * betaStride]);
                }
            }
        }

        // Prefill: tokens in groups of four (four rows of activations, 10 KB at K = 2560, stay in L1) against a block
        // of weight rows (kept in L2), so the weights, not the activations, are what comes from L2 again.
        for (int blockStart = first; blockStart < rowEnd; blockStart += RowBlock)
        {
            int blockEnd = Math.Min(rowEnd, blockStart + RowBlock);
            int t = 0;
            for (; t + 4 <= m; t += 4)
            {
                sbyte* x = quantized + ((long)t * padded);
                int row = blockStart;
                if (twoBit && path is KernelPath.Vector256 or KernelPath.Vector512 && !KernelPaths.Vnni)
                {
                    for (; row + 2 <= blockEnd; row += 2)
                    {
                        TernaryDot.TwoRows256x4(packed + ((long)row * rowBytes), rowBytes, x, padded, sums.Slice(t, 4), four, second);
                        for (int i = 0; i < 4; i++)
                        {
                            y[((long)(t + i) * n) + row] = Output(four[i], scales[t + i], betas[row * betaStride]);
                            y[((long)(t + i) * n) + row + 1] = Output(second[i], scales[t + i], betas[(row + 1) * betaStride]);
                        }
                    }
                }

                for (; row < blockEnd; row++)
                {
                    byte* w = packed + ((long)row * rowBytes);
                    if (twoBit)
                    {
                        TernaryDot.Row4(path, w, rowBytes, x, padded, sums.Slice(t, 4), four);
                    }
                    else
                    {
                        TritDot.Row4(path, w, rowBytes, x, padded, sums.Slice(t, 4), KernelPaths.Vnni, four);
                    }

                    for (int i = 0; i < 4; i++)
                    {
                        y[((long)(t + i) * n) + row] = Output(four[i], scales[t + i], betas[row * betaStride]);
                    }
                }
            }

            for (; t < m; t++)
            {
                sbyte* x = quantized + ((long)t * padded);
                for (int row = blockStart; row < blockEnd; row++)
                {
                    byte* w = packed + ((long)row * rowBytes);
                    int acc = twoBit ? TernaryDot.Row(path, w, rowBytes, x, sums[t]) : TritDot.Row(path, w, rowBytes, x, sums[t], KernelPaths.Vnni);
                    y[((long)t * n) + row] = Output(acc, scales[t], betas[row * betaStride]);
                }
            }
        }
    }

    // One token: a row block at a time into a stack buffer of dot products, then the outputs.
    private static void ComputeOneTokenNative(TernaryLayout layout, sbyte* quantized, float scale, int sum, byte* packed, int rowBytes, float* betas, int betaStride, float* y, int rowStart, int rowEnd)
    {
        int* dots = stackalloc int[RowBlock];
        for (int blockStart = rowStart; blockStart < rowEnd; blockStart += RowBlock)
        {
            int rows = Math.Min(RowBlock, rowEnd - blockStart);
            byte* weights = packed + ((long)blockStart * rowBytes);
            if (layout == TernaryLayout.FivePerByte)
            {
                NativeKernels.TritGemvAvx512Vnni(weights, rows, rowBytes, quantized, sum, dots);
            }
            else
            {
                NativeKernels.Ternary2GemvAvx512Vnni(weights, rows, rowBytes, quantized, sum, dots);
            }

            Outputs(dots, rows, scale, betas + (blockStart * betaStride), betaStride, y + blockStart);
        }
    }

    // The native kernels take four rows by four (AVX-512 VNNI) or eight (I8MM) tokens per pass; here, a row block by up
    // to 16 tokens per call, so the block's weights (40 KB at K = 2560) stay in L2 while the tokens pass over them.
    private static void ComputeRowsNative(sbyte* quantized, int m, int padded, ReadOnlySpan<float> scales, ReadOnlySpan<int> sums, byte* packed, int rowBytes, float* betas, int betaStride, float* y, int n, int rowStart, int rowEnd)
    {
        int* dots = stackalloc int[NativeTokens * RowBlock];
        fixed (int* tokenSums = sums)
        {
            for (int blockStart = rowStart; blockStart < rowEnd; blockStart += RowBlock)
            {
                int rows = Math.Min(RowBlock, rowEnd - blockStart);
                for (int first = 0; first < m; first += NativeTokens)
                {
                    int count = Math.Min(NativeTokens, m - first);
                    NativeKernels.Ternary2Dots(packed + ((long)blockStart * rowBytes), rows, rowBytes, quantized + ((long)first * padded), padded, tokenSums + first, count, dots, RowBlock);
                    for (int t = 0; t < count; t++)
                    {
                        Outputs(dots + (t * RowBlock), rows, scales[first + t], betas + (blockStart * betaStride), betaStride, y + ((long)(first + t) * n) + blockStart);
                    }
                }
            }
        }
    }

    // Output() for a run of rows, eight at a time: int-to-float conversion, division and multiplication are each
    // correctly rounded in vector lanes as in scalar code, so the results are the same bits. betaStride is 0 (one beta)
    // or 1 (one per row), as ComputeRows documents.
    private static void Outputs(int* dots, int rows, float scale, float* betas, int betaStride, float* y)
    {
        int r = 0;
        if (scale != 0 && Vector256.IsHardwareAccelerated)
        {
            var scales = Vector256.Create(scale);
            for (; r + 8 <= rows; r += 8)
            {
                var beta = betaStride == 0 ? Vector256.Create(betas[0]) : Vector256.Load(betas + r);
                (Vector256.ConvertToSingle(Vector256.Load(dots + r)) / scales * beta).Store(y + r);
            }
        }

        for (; r < rows; r++)
        {
            y[r] = Output(dots[r], scale, betas[r * betaStride]);
        }
    }

    /// <summary>The whole operator on one thread, with pooled scratch (no allocation once warm).</summary>
    public static void Compute(KernelPath path, ReadOnlySpan<float> x, int m, int k, ReadOnlySpan<byte> packed, int n, float beta, Span<float> y, TernaryLayout layout = TernaryLayout.FourPerByte, bool allowNative = true)
    {
        Validate(x.Length, m, k, packed.Length, n, y.Length, layout);
        int padded = layout.PaddedK(k);
        sbyte[] quantized = ArrayPool<sbyte>.Shared.Rent(checked((m * padded) + ActivationAlignment));
        float[] scales = ArrayPool<float>.Shared.Rent(Math.Max(1, m));
        int[] sums = ArrayPool<int>.Shared.Rent(Math.Max(1, m));
        try
        {
            fixed (sbyte* pinned = quantized)
            fixed (byte* w = packed)
            fixed (float* output = y)
            {
                sbyte* q = AlignActivations(pinned);
                Quantize(path, x, m, k, new Span<sbyte>(q, m * padded), scales, sums, layout);
                ComputeRows(path, q, m, k, scales.AsSpan(0, m), sums.AsSpan(0, m), w, &beta, 0, output, n, 0, n, layout, allowNative);
            }
        }
        finally
        {
            ArrayPool<sbyte>.Shared.Return(quantized);
            ArrayPool<float>.Shared.Return(scales);
            ArrayPool<int>.Shared.Return(sums);
        }
    }

    /// <summary>Checks the sizes agree; the message says which.</summary>
    public static void Validate(long xLength, int m, int k, long packedLength, int n, long yLength, TernaryLayout layout = TernaryLayout.FourPerByte)
    {
        if (m < 0 || k < 0 || n < 0)
        {
            throw new ArgumentException($"BitLinear sizes must not be negative (m={m}, k={k}, n={n}).");
        }

        if (xLength != (long)m * k)
        {
            throw new ArgumentException($"BitLinear input has {xLength} values; expected {m}x{k}.");
        }

        int rowBytes = layout.RowBytes(k);
        if (packedLength != (long)n * rowBytes)
        {
            throw new ArgumentException($"BitLinear packed weights have {packedLength} bytes; {n} rows of K={k} take {(long)n * rowBytes} ({rowBytes} per row in the {(int)layout}-weights-per-byte layout).");
        }

        if (yLength != (long)m * n)
        {
            throw new ArgumentException($"BitLinear output has {yLength} values; expected {m}x{n}.");
        }
    }

    private static float Output(int acc, float scale, float beta) => scale == 0 ? 0f : acc / scale * beta;
}
