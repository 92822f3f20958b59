using EdgeRuntime.Kernels;
using EdgeRuntime.Kernels.Ternary;

namespace EdgeRuntime.Kernels.Tests;

public sealed class TernaryKernelTests
{
    public static TheoryData<KernelPath> Paths()
    {
        var data = new TheoryData<KernelPath>();
        foreach (var path in KernelPaths.Supported)
        {
            data.Add(path);
        }

        return data;
    }

    internal static sbyte[] Weights(int n, int k, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, n * k).Select(_ => (sbyte)(random.Next(3) - 1))];
    }

    internal static float[] Activations(int count, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(_ => (float)((random.NextDouble() * 2) - 1) * 3f)];
    }

    [Fact]
    public void The_packed_layout_puts_weight_256g_plus_64j_plus_b_in_bits_2j_of_byte_b()
    {
        var weights = new sbyte[512];
        weights[0] = 1;     // block 0, j 0, byte 0 -> code 2 in bits 0-1
        weights[65] = -1;   // block 0, j 1, byte 1 -> code 0 in bits 2-3
        weights[255] = 1;   // block 0, j 3, byte 63 -> code 2 in bits 6-7
        weights[256 + 128 + 5] = 1; // block 1, j 2, byte 5 -> code 2 in bits 4-5
        byte[] packed = TernaryPacking.Pack(weights, 1, 512);
        Assert.Equal(128, packed.Length);
        Assert.Equal(0b01_01_01_10, packed[0]);
        Assert.Equal(0b01_01_00_01, packed[1]);
        Assert.Equal(0b10_01_01_01, packed[63]);
        Assert.Equal(0b01_10_01_01, packed[64 + 5]);
        Assert.Equal(0b01_01_01_01, packed[2]);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 127)]
    [InlineData(2, 129)]
    [InlineData(5, 300)]
    public void Packing_round_trips_and_pads_to_blocks_of_256(int n, int k)
    {
        var weights = Weights(n, k, 3);
        byte[] packed = TernaryPacking.Pack(weights, n, k);
        Assert.Equal(n * TernaryPacking.RowBytes(k), packed.Length);
        for (int row = 0; row < n; row++)
        {
            for (int i = 0; i < TernaryPacking.PaddedK(k); i++)
            {
                Assert.Equal(i < k ? weights[(row * k) + i] : 0, TernaryPacking.WeightAt(packed, k, row, i));
            }
        }
    }

    [Fact]
    public void Non_ternary_weights_are_refused()
    {
        Assert.Throws<ArgumentException>(() => TernaryPacking.Pack([2], 1, 1));
        Assert.Throws<ArgumentException>(() => TernaryPacking.Pack([1, 0], 1, 3));
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Activation_quantization_matches_the_scalar_definition_at_every_length(KernelPath path)
    {
        for (int length = 0; length <= 300; length++)
        {
            float[] x = Activations(length, length);
            if (length > 3)
            {
                x[1] = 0.5f / (127f / MathF.Max(3f, x.Max(MathF.Abs))); // a value near a rounding tie
            }

            int padded = TernaryPacking.PaddedK(length);
            var expected = new sbyte[padded];
            var actual = new sbyte[padded];
            actual.AsSpan().Fill(99); // the padding must be cleared
            float s1 = ActivationQuantizer.Quantize(x, expected, KernelPath.Scalar);
            float s2 = ActivationQuantizer.Quantize(x, actual, path, out int sum);
            Assert.Equal(s1, s2);
            Assert.Equal(expected, actual);
            Assert.Equal(expected.Sum(v => v), sum); // Σ x_q, which the x64 kernels subtract
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void A_token_with_a_NaN_or_an_infinity_quantizes_to_zeros_on_every_path(KernelPath path)
    {
        foreach (int length in new[] { 7, 40, 100, 2560 })
        {
            foreach (int at in new[] { 0, length / 2, length - 1 })
            {
                foreach (float bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
                {
                    float[] x = Activations(length, at);
                    x[at] = bad;
                    var q = new sbyte[TernaryPacking.PaddedK(length)];
                    q.AsSpan().Fill(5);
                    Assert.Equal(0f, ActivationQuantizer.Quantize(x, q, path, out int sum));
                    Assert.Equal(0, sum);
                    Assert.All(q, v => Assert.Equal(0, v));
                }
            }
        }
    }

    [Fact]
    public void Quantization_follows_the_bitnet_formula()
    {
        var q = new sbyte[128];
        float scale = ActivationQuantizer.Quantize([0.5f, -1f, 0.25f, 0.126f, 0f], q, KernelPath.Scalar);
        Assert.Equal(127f, scale);
        Assert.Equal([64, -127, 32, 16, 0], q[..5]); // 63.5 rounds to even (64), 31.75 -> 32, 16.002 -> 16
        Assert.Equal(0f, ActivationQuantizer.Quantize(new float[7], q, KernelPath.Scalar));
        Assert.All(q, v => Assert.Equal(0, v));
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void BitLinear_equals_the_reference_bit_for_bit_over_lengths_and_batches(KernelPath path)
    {
        int[] ks = [.. Enumerable.Range(0, 40), 63, 64, 65, 127, 128, 129, 255, 256, 257, 383, 384, 511, 512, 513, 640, 1000, 2100, 2304];
        foreach (int k in ks)
        {
            // n = 7 stays inside the tails; n = 21 also takes the eight-row output step; n = 130 crosses 64-row blocks.
            foreach ((int m, int n) in new[] { (1, 7), (2, 7), (3, 7), (4, 7), (5, 7), (9, 7), (17, 7), (1, 21), (6, 21), (5, 130) })
            {
                var weights = Weights(n, k, k + 1);
                float[] x = Activations(m * k, (k * 31) + m);
                float beta = 0.0173f;
                float[] expected = BitLinearReference.Compute(x, m, k, weights, n, beta);
                // On an AVX-512 VNNI CPU the 256/512-bit paths run the native kernel; the C# forms must agree as well.
                foreach (bool allowNative in new[] { true, false })
                {
                    var actual = new float[m * n];
                    BitLinear.Compute(path, x, m, k, TernaryPacking.Pack(weights, n, k), n, beta, actual, allowNative: allowNative);
                    Assert.True(expected.AsSpan().SequenceEqual(actual), $"path {path}, native {allowNative}, k={k}, m={m}: first difference at {Enumerable.Range(0, expected.Length).FirstOrDefault(i => BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))}");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Extreme_activations_do_not_overflow_any_path(KernelPath path)
    {
        // Every weight +1 and every activation at the clamp: the largest sums the 16-bit intermediates can see.
        const int n = 3;
        const int k = 1024;
        var weights = Enumerable.Repeat((sbyte)1, n * k).ToArray();
        weights[k..(2 * k)].AsSpan().Fill(-1);
        float[] x = [.. Enumerable.Repeat(-5f, k), .. Enumerable.Repeat(7f, k)];
        float[] expected = BitLinearReference.Compute(x, 2, k, weights, n, 1f);
        foreach (bool allowNative in new[] { true, false })
        {
            var actual = new float[2 * n];
            BitLinear.Compute(path, x, 2, k, TernaryPacking.Pack(weights, n, k), n, 1f, actual, allowNative: allowNative);
            Assert.Equal(expected, actual);
            Assert.Equal(-5f * k, actual[0], 1e-2f);
        }
    }

    [Fact]
    public void Sizes_that_do_not_agree_are_refused_with_the_reason()
    {
        var error = Assert.Throws<ArgumentException>(() => BitLinear.Compute(KernelPath.Scalar, new float[10], 1, 10, new byte[31], 1, 1f, new float[1]));
        Assert.Contains("64 (64 per row in the 4-weights-per-byte layout)", error.Message, StringComparison.Ordinal);
    }
}
