using EdgeRuntime.Kernels.Ternary;

namespace EdgeRuntime.Kernels.Tests;

/// <summary>The 1.6-bit layout (five weights per byte) and BitLinear on it, against the same reference as the 2-bit one.</summary>
public sealed class TritPackingTests
{
    public static TheoryData<KernelPath> Paths() => TernaryKernelTests.Paths();

    private static sbyte[] Weights(int n, int k, int seed) => TernaryKernelTests.Weights(n, k, seed);

    private static float[] Activations(int count, int seed) => TernaryKernelTests.Activations(count, seed);

    [Fact]
    public void Every_five_codes_encode_to_a_distinct_byte_that_decodes_back()
    {
        var seen = new HashSet<byte>();
        for (int v = 0; v < 243; v++)
        {
            int[] codes = [v / 81, v / 27 % 3, v / 9 % 3, v / 3 % 3, v % 3];
            byte q = TritPacking.Encode(codes[0], codes[1], codes[2], codes[3], codes[4]);
            Assert.True(seen.Add(q), $"v={v} encodes to {q}, already used");
            for (int j = 0; j < TritPacking.Digits; j++)
            {
                Assert.Equal(codes[j], TritPacking.DecodeCode(q, j));
            }
        }
    }

    [Fact]
    public void Any_byte_decodes_to_codes_0_to_2()
    {
        for (int q = 0; q < 256; q++)
        {
            for (int j = 0; j < TritPacking.Digits; j++)
            {
                Assert.InRange(TritPacking.DecodeCode((byte)q, j), 0, 2);
            }
        }
    }

    [Fact]
    public void The_layout_puts_weight_160g_plus_32j_plus_b_in_digit_j_of_byte_b()
    {
        var weights = new sbyte[320];
        weights[0] = 1;               // block 0, byte 0, digit 0
        weights[32 + 1] = -1;         // block 0, byte 1, digit 1
        weights[128 + 31] = 1;        // block 0, byte 31, digit 4
        weights[160 + 64 + 5] = -1;   // block 1, byte 5, digit 2
        byte[] packed = TritPacking.Pack(weights, 1, 320);
        Assert.Equal(64, packed.Length);
        Assert.Equal(TritPacking.Encode(2, 1, 1, 1, 1), packed[0]);
        Assert.Equal(TritPacking.Encode(1, 0, 1, 1, 1), packed[1]);
        Assert.Equal(TritPacking.Encode(1, 1, 1, 1, 2), packed[31]);
        Assert.Equal(TritPacking.Encode(1, 1, 0, 1, 1), packed[32 + 5]);
        Assert.Equal(TritPacking.Encode(1, 1, 1, 1, 1), packed[2]);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 159)]
    [InlineData(2, 161)]
    [InlineData(5, 700)]
    public void Packing_round_trips_pads_to_blocks_of_160_and_matches_the_repacked_2_bit_form(int n, int k)
    {
        var weights = Weights(n, k, k);
        byte[] packed = TritPacking.Pack(weights, n, k);
        Assert.Equal(n * TritPacking.RowBytes(k), packed.Length);
        Assert.Equal((k + 159) / 160 * 32, TritPacking.RowBytes(k));
        for (int row = 0; row < n; row++)
        {
            for (int i = 0; i < TritPacking.PaddedK(k); i++)
            {
                Assert.Equal(i < k ? weights[(row * k) + i] : 0, TritPacking.WeightAt(packed, k, row, i));
            }
        }

        Assert.Equal(packed, TritPacking.FromTwoBit(TernaryPacking.Pack(weights, n, k), n, k));
    }

    [Fact]
    public void Non_ternary_weights_and_2_bit_code_3_are_refused()
    {
        Assert.Throws<ArgumentException>(() => TritPacking.Pack([2], 1, 1));
        Assert.Throws<ArgumentException>(() => TritPacking.Pack([1, 0], 1, 3));
        var error = Assert.Throws<ArgumentException>(() => TritPacking.FromTwoBit(Enumerable.Repeat((byte)0xFF, 64).ToArray(), 1, 256));
        Assert.Contains("code 3", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => TritPacking.FromTwoBit(new byte[63], 1, 256));
    }

    [Theory]
    [InlineData(4, TernaryLayout.FourPerByte)]
    [InlineData(5, TernaryLayout.FivePerByte)]
    public void The_attribute_names_the_layout(long tritsPerByte, TernaryLayout layout) =>
        Assert.Equal(layout, TernaryLayouts.FromTritsPerByte(tritsPerByte));

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(8)]
    public void Other_attribute_values_are_refused(long tritsPerByte) =>
        Assert.Contains("must be 4", Assert.Throws<ArgumentException>(() => TernaryLayouts.FromTritsPerByte(tritsPerByte)).Message, StringComparison.Ordinal);

    [Theory]
    [MemberData(nameof(Paths))]
    public void BitLinear_on_five_per_byte_equals_the_reference_bit_for_bit(KernelPath path)
    {
        int[] ks = [.. Enumerable.Range(0, 34), 159, 160, 161, 319, 320, 321, 480, 1000, 2100, 2560, 4000];
        foreach (int k in ks)
        {
            foreach (int m in new[] { 1, 2, 4, 5, 9 })
            {
                foreach (int n in new[] { 3, 9 })
                {
                    var weights = Weights(n, k, k + n);
                    float[] x = Activations(m * k, (k * 31) + m);
                    const float beta = 0.0173f;
                    float[] expected = BitLinearReference.Compute(x, m, k, weights, n, beta);
                    var actual = new float[m * n];
                    BitLinear.Compute(path, x, m, k, TritPacking.Pack(weights, n, k), n, beta, actual, TernaryLayout.FivePerByte);
                    Assert.True(expected.AsSpan().SequenceEqual(actual), $"path {path}, k={k}, m={m}, n={n}: first difference at {Enumerable.Range(0, expected.Length).FirstOrDefault(i => BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))}");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Every_path_decodes_arbitrary_bytes_as_the_scalar_path_does(KernelPath path)
    {
        // Bytes no encoder writes (13 of the 256) still decode to codes 0..2; every path must agree on them.
        const int k = 1600, n = 9, m = 5;
        var packed = new byte[n * TritPacking.RowBytes(k)];
        new Random(7).NextBytes(packed);
        float[] x = Activations(m * k, 11);
        var expected = new float[m * n];
        var actual = new float[m * n];
        BitLinear.Compute(KernelPath.Scalar, x, m, k, packed, n, 1f, expected, TernaryLayout.FivePerByte);
        BitLinear.Compute(path, x, m, k, packed, n, 1f, actual, TernaryLayout.FivePerByte);
        Assert.Equal(expected, actual);
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Extreme_activations_do_not_overflow_the_16_bit_sums(KernelPath path)
    {
        // Every weight +1 (code 2) against activations at the clamp, over more chunks than one widening covers.
        const int n = 5;
        const int k = 160 * 40;
        var weights = Enumerable.Repeat((sbyte)1, n * k).ToArray();
        weights[k..(2 * k)].AsSpan().Fill(-1);
        float[] x = [.. Enumerable.Repeat(-5f, k), .. Enumerable.Repeat(7f, k)];
        float[] expected = BitLinearReference.Compute(x, 2, k, weights, n, 1f);
        var actual = new float[2 * n];
        BitLinear.Compute(path, x, 2, k, TritPacking.Pack(weights, n, k), n, 1f, actual, TernaryLayout.FivePerByte);
        Assert.Equal(expected, actual);
        Assert.Equal(-5f * k, actual[0], 1e-2f);
    }

    [Fact]
    public void A_2_bit_matrix_given_as_five_per_byte_is_refused_by_size()
    {
        var error = Assert.Throws<ArgumentException>(() => BitLinear.Compute(KernelPath.Scalar, new float[2560], 1, 2560, new byte[640], 1, 1f, new float[1], TernaryLayout.FivePerByte));
        Assert.Contains("512 per row in the 5-weights-per-byte layout", error.Message, StringComparison.Ordinal);
    }
}
