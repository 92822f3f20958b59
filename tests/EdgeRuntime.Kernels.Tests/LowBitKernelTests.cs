using EdgeRuntime.Kernels.LowBit;

namespace EdgeRuntime.Kernels.Tests;

public sealed class LowBitKernelTests
{
    private static float[] Random(int count, int seed, float range = 2f)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(_ => (float)((random.NextDouble() * 2) - 1) * range)];
    }

    public static TheoryData<KernelPath, int, int, bool> PathsBitsBlocks()
    {
        var data = new TheoryData<KernelPath, int, int, bool>();
        foreach (var path in KernelPaths.Supported)
        {
            foreach (int bits in new[] { 2, 4 })
            {
                foreach (int block in new[] { 16, 32, 64, 128, 256 })
                {
                    data.Add(path, bits, block, block % 32 == 0);
                }
            }
        }

        return data;
    }

    [Fact]
    public void The_layout_is_MatMulNBits_low_bits_first_with_packed_zero_points()
    {
        var shape = new NBitsShape(N: 1, K: 40, Bits: 4, BlockSize: 16);
        Assert.Equal(3, shape.KBlocks);
        Assert.Equal(8, shape.BlobBytes);
        Assert.Equal(2, shape.ZeroPointRowBytes);
        byte[] row = new byte[24];
        row[8 + 2] = 0xA5; // block 1, elements 4 (low nibble) and 5 (high nibble)
        Assert.Equal(5, shape.Code(row, 16 + 4));
        Assert.Equal(10, shape.Code(row, 16 + 5));
        Assert.Equal(7, shape.ZeroPoint([0x37, 0x0C], 0));
        Assert.Equal(3, shape.ZeroPoint([0x37, 0x0C], 1));
        Assert.Equal(12, shape.ZeroPoint([0x37, 0x0C], 2));
        Assert.Equal(8, shape.ZeroPoint(default, 2));

        var two = new NBitsShape(N: 1, K: 64, Bits: 2, BlockSize: 32);
        Assert.Equal(3, two.Code([0b11_00_10_01, 0, 0, 0, 0, 0, 0, 0], 3));
        Assert.Equal(2, two.Code([0b11_00_10_01, 0, 0, 0, 0, 0, 0, 0], 1));
        Assert.Equal(1, two.ZeroPoint([0b0000_0100], 1));
    }

    [Theory]
    [InlineData(4, 32, true)]
    [InlineData(4, 128, false)]
    [InlineData(2, 64, true)]
    public void Round_to_nearest_quantization_stays_within_half_a_step(int bits, int block, bool zeroPoints)
    {
        var shape = new NBitsShape(N: 5, K: 200, Bits: bits, BlockSize: block);
        var w = Random(shape.N * shape.K, 4);
        var q = NBitsWeights.Quantize(w, shape, zeroPoints);
        var back = q.Dequantize();
        for (int n = 0; n < shape.N; n++)
        {
            for (int k = 0; k < shape.K; k++)
            {
                float step = q.Scales[(n * shape.KBlocks) + (k / block)];
                float error = MathF.Abs(back[(n * shape.K) + k] - w[(n * shape.K) + k]);
                // Asymmetric quantization covers the block's range, so it is off by at most half a step; symmetric
                // clips the top of the range (2^(bits-1)-1 steps above zero) and may be off by up to one step there.
                Assert.True(error <= (zeroPoints ? 0.5f : 1f) * step * 1.0001f + 1e-6f, $"n={n} k={k} error={error} step={step}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(PathsBitsBlocks))]
    public void Int8_mode_equals_the_reference_bit_for_bit_on_every_path(KernelPath path, int bits, int block, bool zeroPoints)
    {
        // K from 0 through lengths that end mid-block and mid-segment, N = two eight-row groups and three rows more,
        // 1-3 tokens; batches of 4-bit rows with and without libedgekernels' kernel (where this CPU has it).
        foreach (int k in new[] { 0, 1, 15, block - 1, block, block + 7, (3 * block) + 33 })
        {
            foreach (int m in new[] { 1, 3 })
            {
                var shape = new NBitsShape(N: 19, K: k, Bits: bits, BlockSize: block);
                var weights = NBitsWeights.Quantize(Random(shape.N * k, k + bits), shape, zeroPoints);
                var x = Random(m * k, 100 + k);
                var bias = Random(shape.N, 9);
                var expected = NBitsReference.Compute(shape, NBitsAccuracy.Int8, x, m, weights.B, weights.Scales, weights.ZeroPoints, bias);
                foreach (bool allowNative in new[] { true, false })
                {
                    var actual = new float[m * shape.N];
                    NBitsMatMul.Compute(path, shape, NBitsAccuracy.Int8, x, m, weights.B, weights.Scales, weights.ZeroPoints, bias, actual, allowNative);
                    Assert.Equal(expected.Select(BitConverter.SingleToInt32Bits), actual.Select(BitConverter.SingleToInt32Bits));
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(PathsBitsBlocks))]
    public void Float_mode_matches_the_reference_to_float_rounding_on_every_path(KernelPath path, int bits, int block, bool zeroPoints)
    {
        foreach (int k in new[] { 0, 1, block - 1, block, (2 * block) + 5 })
        {
            var shape = new NBitsShape(N: 9, K: k, Bits: bits, BlockSize: block);
            var weights = NBitsWeights.Quantize(Random(shape.N * k, k), shape, zeroPoints);
            var x = Random(2 * k, 50 + k);
            var expected = NBitsReference.Compute(shape, NBitsAccuracy.Float, x, 2, weights.B, weights.Scales, weights.ZeroPoints, default);
            var actual = new float[2 * shape.N];
            NBitsMatMul.Compute(path, shape, NBitsAccuracy.Float, x, 2, weights.B, weights.Scales, weights.ZeroPoints, default, actual);
            for (int i = 0; i < expected.Length; i++)
            {
                // Sums of ≤ 2·block products, reordered: relative 1e-5 of the sum of magnitudes bounds the difference.
                Assert.True(MathF.Abs(expected[i] - actual[i]) <= 1e-5f * (1 + MathF.Abs(expected[i])) * MathF.Sqrt(k + 1), $"k={k} i={i}: {expected[i]} vs {actual[i]}");
            }
        }
    }

    [Fact]
    public void Int8_mode_tracks_the_float_result_within_activation_quantization_error()
    {
        var shape = new NBitsShape(N: 64, K: 512, Bits: 4, BlockSize: 128);
        var weights = NBitsWeights.Quantize(Random(shape.N * shape.K, 1), shape, zeroPoints: true);
        var x = Random(shape.K, 2);
        var exact = NBitsReference.Compute(shape, NBitsAccuracy.Float, x, 1, weights.B, weights.Scales, weights.ZeroPoints, default);
        var int8 = NBitsReference.Compute(shape, NBitsAccuracy.Int8, x, 1, weights.B, weights.Scales, weights.ZeroPoints, default);
        double signal = exact.Sum(v => (double)v * v);
        double noise = exact.Zip(int8, (a, b) => (double)(a - b) * (a - b)).Sum();
        Assert.True(10 * Math.Log10(signal / noise) > 30, $"SQNR {10 * Math.Log10(signal / noise):F1} dB");
    }

    [Fact]
    public void Bad_shapes_are_refused_with_the_value_named()
    {
        Assert.Contains("bits is 3", Assert.Throws<ArgumentException>(() => new NBitsShape(1, 16, 3, 16).Validate()).Message);
        Assert.Contains("block_size is 24", Assert.Throws<ArgumentException>(() => new NBitsShape(1, 16, 4, 24).Validate()).Message);
        var shape = new NBitsShape(2, 32, 4, 32);
        var ex = Assert.Throws<ArgumentException>(() => NBitsMatMul.Compute(KernelPath.Scalar, shape, NBitsAccuracy.Float, new float[32], 1, new byte[10], new float[2], default, default, new float[2]));
        Assert.Contains("B has 10 bytes", ex.Message);
    }
}
