using EdgeRuntime.Kernels.Int8;
using EdgeRuntime.Kernels.LowBit;
using EdgeRuntime.Kernels.Ternary;

namespace EdgeRuntime.Kernels.SelfCheck;

/// <summary>One kernel on one path: how many cases ran and the first few that disagreed with the reference.</summary>
public sealed record KernelCheckResult(string Kernel, KernelPath Path, int Cases, IReadOnlyList<string> Failures);

/// <summary>
/// Every kernel on every path this CPU supports against its scalar reference, over sizes that cover empty inputs,
/// tails and several blocks: integer results bit for bit, float results to rounding. `edged --check-kernels` runs it
/// on a board (and the emulated boards' tests run it under qemu), so the SIMD paths are proven on the CPU that will
/// use them, not only on the build machine. Small sizes: it takes well under a second natively.
/// </summary>
public static class KernelSelfCheck
{
    public static IReadOnlyList<KernelCheckResult> Run()
    {
        var results = new List<KernelCheckResult>();
        foreach (var path in KernelPaths.Supported)
        {
            results.Add(Check("BitLinear", path, BitLinearCases));
            results.Add(Check("Int8RowLinear", path, Int8RowCases));
            results.Add(Check("MatMulNBits int8", path, (p, fail) => NBitsCases(p, NBitsAccuracy.Int8, fail)));
            results.Add(Check("MatMulNBits float", path, (p, fail) => NBitsCases(p, NBitsAccuracy.Float, fail)));
            results.Add(Check("MatMulInteger", path, Int8Cases));
            results.Add(Check("MatMulInteger prepacked", path, PackedInt8Cases));
        }

        return results;
    }

    private static KernelCheckResult Check(string kernel, KernelPath path, Func<KernelPath, Action<string>, int> cases)
    {
        var failures = new List<string>();
        int count = cases(path, failure =>
        {
            if (failures.Count < 5)
            {
                failures.Add(failure);
            }
        });
        return new KernelCheckResult(kernel, path, count, failures);
    }

    private static float[] Floats(int count, int seed)
    {
        var random = new Random(seed);
        var values = new float[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = (float)((random.NextDouble() * 2) - 1) * 2f;
        }

        return values;
    }

    private static byte[] Bytes(int count, int seed)
    {
        var bytes = new byte[count];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static int BitLinearCases(KernelPath path, Action<string> fail)
    {
        int cases = 0;
        foreach (int k in new[] { 0, 1, 63, 256, 257, 700, 2100 })
        {
            foreach (int n in new[] { 1, 7, 33 })
            {
                // 17 tokens at one K: more than one group of the native batch kernels (eight tokens a pass on arm64's
                // I8MM, 16 a call from BitLinear) with an odd one left over.
                foreach (int m in k == 700 ? new[] { 1, 3, 5, 17 } : [1, 3, 5])
                {
                    var random = new Random(k + n + m);
                    var weights = new sbyte[n * k];
                    for (int i = 0; i < weights.Length; i++)
                    {
                        weights[i] = (sbyte)(random.Next(3) - 1);
                    }

                    var x = Floats(m * k, k * m);
                    var expected = BitLinearReference.Compute(x, m, k, weights, n, 0.02f);
                    foreach (var layout in new[] { TernaryLayout.FourPerByte, TernaryLayout.FivePerByte })
                    {
                        // Where a native kernel is chosen, the C# form too: a board profile that narrows the kernels
                        // serves with it.
                        bool native = BitLinear.UsesNative(path, layout, m, k);
                        foreach (bool allowNative in native ? new[] { true, false } : [true])
                        {
                            var actual = new float[m * n];
                            BitLinear.Compute(path, x, m, k, layout.Pack(weights, n, k), n, 0.02f, actual, layout, allowNative);
                            cases++;
                            if (!expected.AsSpan().SequenceEqual(actual))
                            {
                                fail($"m={m} k={k} n={n} {(int)layout} weights per byte{(native && !allowNative ? " (C# form)" : "")}");
                            }
                        }
                    }
                }
            }
        }

        // The 1.6-bit one-token forms that sum packed bytes (native, AVX-VNNI, SDOT) divide by 256 exactly up to a padded K
        // of 160 * 1638 on 128-bit lanes; longer rows unpack. Both lengths, with every weight +1 against activations that
        // quantize to -127 (the largest sums quantized activations can make), and every weight -1.
        foreach (int k in new[] { 160 * 1638, 160 * 1639 })
        {
            var weights = new sbyte[2 * k];
            weights.AsSpan(0, k).Fill(1);
            weights.AsSpan(k).Fill(-1);
            var x = new float[k];
            x.AsSpan().Fill(-1f);
            var expected = BitLinearReference.Compute(x, 1, k, weights, 2, 0.02f);
            var actual = new float[2];
            BitLinear.Compute(path, x, 1, k, TernaryLayout.FivePerByte.Pack(weights, 2, k), 2, 0.02f, actual, TernaryLayout.FivePerByte);
            cases++;
            if (!expected.AsSpan().SequenceEqual(actual))
            {
                fail($"m=1 k={k} n=2 5 weights per byte, sums at their largest");
            }
        }

        return cases;
    }

    // Float sums in another order: each output within 1e-5 of Σ|w·x|·|scale| of a double-precision sum.
    private static unsafe int Int8RowCases(KernelPath path, Action<string> fail)
    {
        int cases = 0;
        foreach (int k in new[] { 1, 15, 64, 100, 700 })
        {
            foreach (int n in new[] { 1, 9 })
            {
                foreach (int m in new[] { 1, 2, 3, 4, 7 })
                {
                    var codes = new sbyte[n * k];
                    Bytes(codes.Length, k + n).AsSpan().CopyTo(System.Runtime.InteropServices.MemoryMarshal.AsBytes(codes.AsSpan()));
                    for (int i = 0; i < codes.Length; i++)
                    {
                        codes[i] = Math.Max(codes[i], (sbyte)-127);
                    }

                    float[] scales = Floats(n, n);
                    float[] x = Floats(m * k, m + k);
                    var y = new float[m * n];
                    fixed (float* xp = x, sp = scales, yp = y)
                    fixed (sbyte* wp = codes)
                    {
                        Int8RowLinear.ComputeRows(path, xp, m, k, wp, sp, yp, n, 0, n);
                    }

                    cases++;
                    for (int t = 0; t < m; t++)
                    {
                        for (int r = 0; r < n; r++)
                        {
                            double sum = 0, magnitude = 0;
                            for (int i = 0; i < k; i++)
                            {
                                double product = (double)codes[(r * k) + i] * x[(t * k) + i];
                                sum += product;
                                magnitude += Math.Abs(product);
                            }

                            if (Math.Abs(y[(t * n) + r] - (sum * scales[r])) > (1e-5 * magnitude * Math.Abs(scales[r])) + 1e-9)
                            {
                                fail($"m={m} k={k} n={n} [{t},{r}]");
                            }
                        }
                    }
                }
            }
        }

        return cases;
    }

    private static int NBitsCases(KernelPath path, NBitsAccuracy accuracy, Action<string> fail)
    {
        int cases = 0;
        foreach (int bits in new[] { 2, 4 })
        {
            foreach (int block in new[] { 16, 32, 64, 128, 256 })
            {
                foreach (bool zeroPoints in new[] { false, true })
                {
                    foreach (int k in new[] { 0, 1, block - 1, block + 7, (3 * block) + 33 })
                    {
                        // N = 11: one eight-row group (the x64 int8 form) and three single rows.
                        // Nine tokens where a K has several blocks: more than one pass of the native batch kernels.
                        foreach (int m in bits == 4 && k == (3 * block) + 33 ? new[] { 1, 3, 9 } : [1, 3])
                        {
                            cases += NBitsCase(path, accuracy, new NBitsShape(N: 11, K: k, Bits: bits, BlockSize: block), zeroPoints, m, fail);
                        }
                    }
                }
            }
        }

        // Batches past one chunk of K (1024 values on arm64's I8MM) and one batch of tokens (32 there), with 5 and 6 rows
        // (a group of four and one or two left).
        foreach (int n in new[] { 5, 6 })
        {
            foreach (int block in new[] { 16, 128 })
            {
                foreach (bool zeroPoints in new[] { false, true })
                {
                    foreach (int m in new[] { 2, 40 })
                    {
                        cases += NBitsCase(path, accuracy, new NBitsShape(N: n, K: 2100, Bits: 4, BlockSize: block), zeroPoints, m, fail);
                    }
                }
            }
        }

        return cases;
    }

    private static int NBitsCase(KernelPath path, NBitsAccuracy accuracy, NBitsShape shape, bool zeroPoints, int m, Action<string> fail)
    {
        int cases = 0;
        int k = shape.K;
        var weights = NBitsWeights.Quantize(Floats(shape.N * k, k + shape.Bits), shape, zeroPoints);
        var bias = Floats(shape.N, 9);
        var x = Floats(m * k, 100 + k);
        var expected = NBitsReference.Compute(shape, accuracy, x, m, weights.B, weights.Scales, weights.ZeroPoints, bias);

        // Where the native batch kernel is chosen, the C# batch form too: a board profile that narrows the kernels serves
        // with it.
        bool native = NBitsMatMul.UsesNative(shape, accuracy, path, m);
        foreach (bool allowNative in native ? new[] { true, false } : [true])
        {
            var actual = new float[m * shape.N];
            NBitsMatMul.Compute(path, shape, accuracy, x, m, weights.B, weights.Scales, weights.ZeroPoints, bias, actual, allowNative);
            cases++;
            if (!Agree(expected, actual, accuracy == NBitsAccuracy.Int8 ? 0 : 1e-5f * MathF.Sqrt(k + 1)))
            {
                fail($"bits={shape.Bits} block={shape.BlockSize} zp={zeroPoints} n={shape.N} k={k} m={m}{(native && !allowNative ? " (C# form)" : "")}");
            }
        }

        return cases;
    }

    private static bool Agree(float[] expected, float[] actual, float relative)
    {
        for (int i = 0; i < expected.Length; i++)
        {
            bool same = relative == 0
                ? BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i])
                : MathF.Abs(expected[i] - actual[i]) <= relative * (1 + MathF.Abs(expected[i]));
            if (!same)
            {
                return false;
            }
        }

        return true;
    }

    private static IEnumerable<(int M, int K, int N, bool ASigned, bool BSigned, int[] AZp, int[] BZp, byte[] A, byte[] B)> Int8Problems(int[] ks)
    {
        var random = new Random(5);
        foreach (bool aSigned in new[] { false, true })
        {
            foreach (bool bSigned in new[] { false, true })
            {
                foreach (int k in ks)
                {
                    foreach (int n in new[] { 1, 15, 16, 33, 64, 97 })
                    {
                        int m = 1 + (n % 3);
                        int[] aZp = n % 2 == 0 ? [aSigned ? -128 : 255] : [.. Enumerable.Range(0, m).Select(_ => aSigned ? random.Next(-128, 128) : random.Next(256))];
                        int[] bZp = n % 3 == 0 ? [bSigned ? 127 : 0] : [.. Enumerable.Range(0, n).Select(_ => bSigned ? random.Next(-128, 128) : random.Next(256))];
                        yield return (m, k, n, aSigned, bSigned, aZp, bZp, Bytes(m * k, k + n), Bytes(k * n, k * n));
                    }
                }
            }
        }
    }

    private static int Int8Cases(KernelPath path, Action<string> fail)
    {
        int cases = 0;
        foreach (var p in Int8Problems([0, 1, 2, 7, 64, 301]))
        {
            var expected = Int8Reference.MatMulInteger(new Int8Matrix(p.A, p.ASigned), p.M, p.K, new Int8Matrix(p.B, p.BSigned), p.N, p.AZp, p.BZp);
            var actual = new int[p.M * p.N];
            Int8MatMul.MatMulInteger(path, new Int8Matrix(p.A, p.ASigned), p.M, p.K, new Int8Matrix(p.B, p.BSigned), p.N, p.AZp, p.BZp, actual);
            cases++;
            if (!expected.AsSpan().SequenceEqual(actual))
            {
                fail($"a {(p.ASigned ? "s8" : "u8")} b {(p.BSigned ? "s8" : "u8")} m={p.M} k={p.K} n={p.N}");
            }
        }

        return cases;
    }

    private static int PackedInt8Cases(KernelPath path, Action<string> fail)
    {
        int cases = 0;
        foreach (var p in Int8Problems([0, 1, 3, 4, 5, 33, 301, 1030]).Concat(BatchProblems()))
        {
            var expected = Int8Reference.MatMulInteger(new Int8Matrix(p.A, p.ASigned), p.M, p.K, new Int8Matrix(p.B, p.BSigned), p.N, p.AZp, p.BZp);
            using var packed = PackedInt8Weights.Pack(p.B, p.K, p.N, p.BSigned);

            // Where a native kernel is chosen, the C# form too: a board profile that narrows the kernels serves with it.
            bool native = PackedInt8MatMul.UsesNative(path, p.M);
            foreach (bool allowNative in native ? new[] { true, false } : [true])
            {
                var actual = new int[p.M * p.N];
                PackedInt8MatMul.MatMulInteger(path, packed, p.A, p.ASigned, p.M, p.AZp, p.BZp, actual, allowNative: allowNative);
                cases++;
                if (!expected.AsSpan().SequenceEqual(actual))
                {
                    fail($"a {(p.ASigned ? "s8" : "u8")} b {(p.BSigned ? "s8" : "u8")} m={p.M} k={p.K} n={p.N}{(native && !allowNative ? " (C# form)" : "")}");
                }
            }
        }

        return cases;
    }

    // Batches past one pass of the native kernels (four tokens a pass on arm64's I8MM) and one batch (32 tokens there),
    // an odd token, odd K and N and an odd count of quads (K = 297), per-token zero points.
    private static IEnumerable<(int M, int K, int N, bool ASigned, bool BSigned, int[] AZp, int[] BZp, byte[] A, byte[] B)> BatchProblems()
    {
        var random = new Random(9);
        foreach (var (m, k, n) in new[] { (9, 301, 33), (6, 1030, 17), (3, 297, 20), (40, 297, 33) })
        {
            int[] aZp = [.. Enumerable.Range(0, m).Select(_ => random.Next(-128, 128))];
            int[] bZp = [.. Enumerable.Range(0, n).Select(_ => random.Next(256))];
            yield return (m, k, n, true, false, aZp, bZp, Bytes(m * k, m + k), Bytes(k * n, k + n));
        }
    }
}
