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
                    byte[] packed = TritPacking.Pack(weights, n, k);
                    foreach (bool allowNative in new[] { true, false })
                    {
                        var actual = new float[m * n];
                        BitLinear.Compute(path, x, m, k, packed, n, beta, actual, TernaryLayout.FivePerByte, allowNative);
                        Assert.True(expected.AsSpan().SequenceEqual(actual), $"path {path}, native {allowNative}, k={k}, m={m}, n={n}: first difference at {Enumerable.Range(0, expected.Length).FirstOrDefault(i => BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))}");
                    }
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Every_path_decodes_arbitrary_bytes_as_the_scalar_path_does(KernelPath path)
    {
        // Bytes no encoder writes (13 of the 256) still decode to codes 0..2; every path must agree on them, in the
        // one-token (four rows a pass, or the native kernel) and the batch forms.
        const int k = 1600, n = 9;
        var packed = new byte[n * TritPacking.RowBytes(k)];
        new Random(7).NextBytes(packed);
        foreach (int m in new[] { 1, 5 })
        {
            float[] x = Activations(m * k, 11 + m);
            var expected = new float[m * n];
            var actual = new float[m * n];
            BitLinear.Compute(KernelPath.Scalar, x, m, k, packed, n, 1f, expected, TernaryLayout.FivePerByte);
            foreach (bool allowNative in new[] { true, false })
            {
                actual.AsSpan().Fill(float.NaN);
                BitLinear.Compute(path, x, m, k, packed, n, 1f, actual, TernaryLayout.FivePerByte, allowNative);
                Assert.Equal(expected, actual);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Extreme_activations_do_not_overflow_the_16_bit_sums(KernelPath path)
    {
        // Every weight +1 (code 2) against activations at the clamp, over more chunks than one widening covers, for one
        // token (four rows a pass), two (one row at a time) and four (four tokens a pass).
        const int n = 5;
        const int k = 160 * 40;
        var weights = Enumerable.Repeat((sbyte)1, n * k).ToArray();
        weights[k..(2 * k)].AsSpan().Fill(-1);
        byte[] packed = TritPacking.Pack(weights, n, k);
        foreach (int m in new[] { 1, 2, 4 })
        {
            float[] x = [.. Enumerable.Range(0, m).SelectMany(t => Enumerable.Repeat(t % 2 == 0 ? -5f : 7f, k))];
            float[] expected = BitLinearReference.Compute(x, m, k, weights, n, 1f);
            foreach (bool allowNative in new[] { true, false })
            {
                var actual = new float[m * n];
                BitLinear.Compute(path, x, m, k, packed, n, 1f, actual, TernaryLayout.FivePerByte, allowNative);
                Assert.Equal(expected, actual);
                Assert.Equal(-5f * k, actual[0], 1e-2f);
            }
        }
    }

    [Avx2Fact]
    public void The_avx2_forms_equal_the_scalar_row() => CompareWideForms(vnni: false);

    [AvxVnniTheory]
    [InlineData(true)]
    public void The_avx_vnni_forms_equal_the_scalar_row(bool vnni) => CompareWideForms(vnni);

    [AvxVnniTheory]
    [InlineData(160 * 1638)]
    [InlineData(160 * 1639)]
    public unsafe void The_avx_vnni_one_token_forms_are_exact_at_the_longest_rows_either_side_of_their_limit(int k)
    {
        // With VNNI one token sums the packed bytes and divides by 256, exact for a padded K below 2^18 (160 * 1638 is the
        // last such K); 160 * 1639 takes the pmaddubsw form. All codes 2 against -128 come nearest to overflowing a lane's
        // share (at 160 * 1639 the byte form would overflow there); the other rows and values check the signs.
        int rowBytes = TritPacking.RowBytes(k);
        var packed = new byte[4 * rowBytes];
        packed.AsSpan(0, 2 * rowBytes).Fill(TritPacking.Encode(2, 2, 2, 2, 2));
        packed.AsSpan(2 * rowBytes).Fill(TritPacking.Encode(0, 0, 0, 0, 0));
        foreach (sbyte value in new sbyte[] { 127, -128 })
        {
            var x = new sbyte[k];
            x.AsSpan().Fill(value);
            var four = new int[4];
            fixed (byte* w = packed)
            fixed (sbyte* xp = x)
            {
                TritDot.FourRows(KernelPath.Vector256, w, rowBytes, xp, value * k, vnni: true, four);
                Assert.Equal(value * k, TritDot.Row(KernelPath.Vector256, w, rowBytes, xp, value * k, vnni: true));
                Assert.Equal(-value * k, TritDot.Row(KernelPath.Vector256, w + (3 * rowBytes), rowBytes, xp, value * k, vnni: true));
            }

            Assert.Equal([value * k, value * k, -value * k, -value * k], four);
        }
    }

    // The 256-bit forms called directly with VNNI on or off, whatever this process chose, against the scalar row: random
    // bytes, then every weight at code 2 against activations at -127 (the largest 16-bit sums), over 30 chunks.
    private static unsafe void CompareWideForms(bool vnni)
    {
        const int k = 160 * 30, n = 4, tokens = 4;
        int rowBytes = TritPacking.RowBytes(k);
        var random = new Random(3);
        foreach (bool extreme in new[] { false, true })
        {
            var packed = new byte[n * rowBytes];
            var x = new sbyte[tokens * k];
            if (extreme)
            {
                packed.AsSpan().Fill(TritPacking.Encode(2, 2, 2, 2, 2));
                x.AsSpan().Fill(-127);
            }
            else
            {
                random.NextBytes(packed);
                for (int i = 0; i < x.Length; i++)
                {
                    x[i] = (sbyte)random.Next(-127, 128);
                }
            }

            int[] sums = [.. Enumerable.Range(0, tokens).Select(t => x.AsSpan(t * k, k).ToArray().Sum(v => v))];
            var four = new int[4];
            fixed (byte* w = packed)
            fixed (sbyte* xp = x)
            {
                TritDot.FourRows(KernelPath.Vector256, w, rowBytes, xp, sums[0], vnni, four);
                for (int r = 0; r < n; r++)
                {
                    int expected = TritDot.RowScalar(w + (r * rowBytes), rowBytes, xp);
                    Assert.Equal(expected, four[r]);
                    Assert.Equal(expected, TritDot.Row(KernelPath.Vector256, w + (r * rowBytes), rowBytes, xp, sums[0], vnni));
                }

                TritDot.Row4(KernelPath.Vector256, w, rowBytes, xp, k, sums, vnni, four);
                for (int t = 0; t < tokens; t++)
                {
                    Assert.Equal(TritDot.RowScalar(w, rowBytes, xp + (t * k)), four[t]);
                }
            }
        }
    }

    [Fact]
    public void A_2_bit_matrix_given_as_five_per_byte_is_refused_by_size()
    {
        var error = Assert.Throws<ArgumentException>(() => BitLinear.Compute(KernelPath.Scalar, new float[2560], 1, 2560, new byte[640], 1, 1f, new float[1], TernaryLayout.FivePerByte));
        Assert.Contains("512 per row in the 5-weights-per-byte layout", error.Message, StringComparison.Ordinal);
    }
}
