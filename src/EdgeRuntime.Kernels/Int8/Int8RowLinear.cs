using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeRuntime.Kernels.Int8;

/// <summary>
/// Y[t, n] = scales[n] · Σ_k W[n, k] · X[t, k]: float activations against <see cref="Int8Rows"/> weight rows, for a
/// tied output head (a vocabulary of rows, read once per step for all of a batch's tokens). The weights are widened to
/// float in registers; the activations stay float, so the only loss is the weights' own quantization. A row is read
/// from memory once and reused from L1 for each further token; on the wide paths four tokens share each widened
/// register. Paths sum in different orders, so they agree with the
/// scalar reference to float rounding, not bit for bit.
/// </summary>
public static unsafe class Int8RowLinear
{
    /// <summary>Output rows [rowStart, rowEnd) for all m tokens; X is [m, k], W [n, k], Y [m, n].</summary>
    public static void ComputeRows(KernelPath path, float* x, int m, int k, sbyte* w, float* scales, float* y, int n, int rowStart, int rowEnd)
    {
        for (int row = rowStart; row < rowEnd; row++)
        {
            sbyte* weights = w + ((long)row * k);
            float scale = scales[row];
            int t = 0;
            if (path is KernelPath.Vector512 or KernelPath.Vector256)
            {
                for (; t + 4 <= m; t += 4)
                {
                    float* x0 = x + ((long)t * k);
                    if (path == KernelPath.Vector512)
                    {
                        Quad512(weights, x0, k, scale, y + ((long)t * n) + row, n);
                    }
                    else
                    {
                        Quad256(weights, x0, k, scale, y + ((long)t * n) + row, n);
                    }
                }
            }

            for (; t + 2 <= m; t += 2)
            {
                float* x0 = x + ((long)t * k);
                var (first, second) = Pair(path, weights, x0, x0 + k, k);
                y[((long)t * n) + row] = first * scale;
                y[((long)(t + 1) * n) + row] = second * scale;
            }

            if (t < m)
            {
                y[((long)t * n) + row] = Single(path, weights, x + ((long)t * k), k) * scale;
            }
        }
    }

    /// <summary>Σ w·x for one row and one token.</summary>
    public static float Single(KernelPath path, sbyte* w, float* x, int k) => path switch
    {
        KernelPath.Vector512 => Single512(w, x, k),
        KernelPath.Vector256 => Single256(w, x, k),
        KernelPath.Vector128 or KernelPath.AdvSimd => Single128(w, x, k),
        _ => SingleScalar(w, x, k, 0),
    };

    /// <summary>Σ w·x0 and Σ w·x1 for one row and two tokens: the row is widened to float once for both.</summary>
    public static (float First, float Second) Pair(KernelPath path, sbyte* w, float* x0, float* x1, int k) => path switch
    {
        KernelPath.Vector512 => Pair512(w, x0, x1, k),
        KernelPath.Vector256 => Pair256(w, x0, x1, k),
        _ => (Single(path, w, x0, k), Single(path, w, x1, k)),
    };

    private static float SingleScalar(sbyte* w, float* x, int k, int start)
    {
        float sum = 0;
        for (int i = start; i < k; i++)
        {
            sum += w[i] * x[i];
        }

        return sum;
    }

    // Four accumulators: one would wait on the previous FMA's latency; four keep the FMA units busy.
    private static float Single512(sbyte* w, float* x, int k)
    {
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        int i = 0;
        for (; i + 64 <= k; i += 64)
        {
            a0 = Avx512F.FusedMultiplyAdd(Widen512(w + i), Vector512.Load(x + i), a0);
            a1 = Avx512F.FusedMultiplyAdd(Widen512(w + i + 16), Vector512.Load(x + i + 16), a1);
            a2 = Avx512F.FusedMultiplyAdd(Widen512(w + i + 32), Vector512.Load(x + i + 32), a2);
            a3 = Avx512F.FusedMultiplyAdd(Widen512(w + i + 48), Vector512.Load(x + i + 48), a3);
        }

        for (; i + 16 <= k; i += 16)
        {
            a0 = Avx512F.FusedMultiplyAdd(Widen512(w + i), Vector512.Load(x + i), a0);
        }

        return Vector512.Sum((a0 + a1) + (a2 + a3)) + SingleScalar(w, x, k, i);
    }

    private static (float, float) Pair512(sbyte* w, float* x0, float* x1, int k)
    {
        Vector512<float> a0 = default, a1 = default, b0 = default, b1 = default;
        int i = 0;
        for (; i + 32 <= k; i += 32)
        {
            var w0 = Widen512(w + i);
            var w1 = Widen512(w + i + 16);
            a0 = Avx512F.FusedMultiplyAdd(w0, Avx512F.LoadVector512(x0 + i), a0);
            b0 = Avx512F.FusedMultiplyAdd(w0, Avx512F.LoadVector512(x1 + i), b0);
            a1 = Avx512F.FusedMultiplyAdd(w1, Avx512F.LoadVector512(x0 + i + 16), a1);
            b1 = Avx512F.FusedMultiplyAdd(w1, Avx512F.LoadVector512(x1 + i + 16), b1);
        }

        float first = Vector512.Sum(a0 + a1);
        float second = Vector512.Sum(b0 + b1);
        for (; i < k; i++)
        {
            first += w[i] * x0[i];
            second += w[i] * x1[i];
        }

        return (first, second);
    }

    // Four tokens: each 16 weights are widened once and used four times (four chains, one per token).
    private static void Quad512(sbyte* w, float* x, int k, float scale, float* y, int n)
    {
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        int i = 0;
        for (; i + 16 <= k; i += 16)
        {
            var weights = Widen512(w + i);
            a0 = Avx512F.FusedMultiplyAdd(weights, Avx512F.LoadVector512(x + i), a0);
            a1 = Avx512F.FusedMultiplyAdd(weights, Avx512F.LoadVector512(x + k + i), a1);
            a2 = Avx512F.FusedMultiplyAdd(weights, Avx512F.LoadVector512(x + (2 * k) + i), a2);
            a3 = Avx512F.FusedMultiplyAdd(weights, Avx512F.LoadVector512(x + (3 * k) + i), a3);
        }

        float s0 = Vector512.Sum(a0), s1 = Vector512.Sum(a1), s2 = Vector512.Sum(a2), s3 = Vector512.Sum(a3);
        for (; i < k; i++)
        {
            s0 += w[i] * x[i];
            s1 += w[i] * x[k + i];
            s2 += w[i] * x[(2 * k) + i];
            s3 += w[i] * x[(3 * k) + i];
        }

        y[0] = s0 * scale;
        y[n] = s1 * scale;
        y[2 * n] = s2 * scale;
        y[3 * n] = s3 * scale;
    }

    private static void Quad256(sbyte* w, float* x, int k, float scale, float* y, int n)
    {
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        int i = 0;
        for (; i + 8 <= k; i += 8)
        {
            var weights = Widen256(w + i);
            a0 = Vector256.MultiplyAddEstimate(weights, Avx.LoadVector256(x + i), a0);
            a1 = Vector256.MultiplyAddEstimate(weights, Avx.LoadVector256(x + k + i), a1);
            a2 = Vector256.MultiplyAddEstimate(weights, Avx.LoadVector256(x + (2 * k) + i), a2);
            a3 = Vector256.MultiplyAddEstimate(weights, Avx.LoadVector256(x + (3 * k) + i), a3);
        }

        float s0 = Vector256.Sum(a0), s1 = Vector256.Sum(a1), s2 = Vector256.Sum(a2), s3 = Vector256.Sum(a3);
        for (; i < k; i++)
        {
            s0 += w[i] * x[i];
            s1 += w[i] * x[k + i];
            s2 += w[i] * x[(2 * k) + i];
            s3 += w[i] * x[(3 * k) + i];
        }

        y[0] = s0 * scale;
        y[n] = s1 * scale;
        y[2 * n] = s2 * scale;
        y[3 * n] = s3 * scale;
    }

    private static float Single256(sbyte* w, float* x, int k)
    {
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        int i = 0;
        for (; i + 32 <= k; i += 32)
        {
            a0 = Vector256.MultiplyAddEstimate(Widen256(w + i), Vector256.Load(x + i), a0);
            a1 = Vector256.MultiplyAddEstimate(Widen256(w + i + 8), Vector256.Load(x + i + 8), a1);
            a2 = Vector256.MultiplyAddEstimate(Widen256(w + i + 16), Vector256.Load(x + i + 16), a2);
            a3 = Vector256.MultiplyAddEstimate(Widen256(w + i + 24), Vector256.Load(x + i + 24), a3);
        }

        for (; i + 8 <= k; i += 8)
        {
            a0 = Vector256.MultiplyAddEstimate(Widen256(w + i), Vector256.Load(x + i), a0);
        }

        return Vector256.Sum((a0 + a1) + (a2 + a3)) + SingleScalar(w, x, k, i);
    }

    private static (float, float) Pair256(sbyte* w, float* x0, float* x1, int k)
    {
        Vector256<float> a0 = default, a1 = default, b0 = default, b1 = default;
        int i = 0;
        for (; i + 16 <= k; i += 16)
        {
            var w0 = Widen256(w + i);
            var w1 = Widen256(w + i + 8);
            a0 = Vector256.MultiplyAddEstimate(w0, Vector256.Load(x0 + i), a0);
            b0 = Vector256.MultiplyAddEstimate(w0, Vector256.Load(x1 + i), b0);
            a1 = Vector256.MultiplyAddEstimate(w1, Vector256.Load(x0 + i + 8), a1);
            b1 = Vector256.MultiplyAddEstimate(w1, Vector256.Load(x1 + i + 8), b1);
        }

        float first = Vector256.Sum(a0 + a1);
        float second = Vector256.Sum(b0 + b1);
        for (; i < k; i++)
        {
            first += w[i] * x0[i];
            second += w[i] * x1[i];
        }

        return (first, second);
    }

    // Portable 128-bit path (arm64 NEON, x64 without AVX2): 16 weights widen to four vectors of four floats.
    private static float Single128(sbyte* w, float* x, int k)
    {
        Vector128<float> a0 = default, a1 = default, a2 = default, a3 = default;
        int i = 0;
        for (; i + 16 <= k; i += 16)
        {
            var (low, high) = Vector128.Widen(Vector128.Load(w + i));
            var (w0, w1) = Vector128.Widen(low);
            var (w2, w3) = Vector128.Widen(high);
            a0 = Vector128.MultiplyAddEstimate(Vector128.ConvertToSingle(w0), Vector128.Load(x + i), a0);
            a1 = Vector128.MultiplyAddEstimate(Vector128.ConvertToSingle(w1), Vector128.Load(x + i + 4), a1);
            a2 = Vector128.MultiplyAddEstimate(Vector128.ConvertToSingle(w2), Vector128.Load(x + i + 8), a2);
            a3 = Vector128.MultiplyAddEstimate(Vector128.ConvertToSingle(w3), Vector128.Load(x + i + 12), a3);
        }

        return Vector128.Sum((a0 + a1) + (a2 + a3)) + SingleScalar(w, x, k, i);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Widen512(sbyte* w) => Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(w)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Widen256(sbyte* w) => Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(w));
}
