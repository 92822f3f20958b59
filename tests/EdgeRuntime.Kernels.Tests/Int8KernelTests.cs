using EdgeRuntime.Kernels.Int8;

namespace EdgeRuntime.Kernels.Tests;

public sealed class Int8KernelTests
{
    public static TheoryData<KernelPath, bool, bool> PathsAndSigns()
    {
        var data = new TheoryData<KernelPath, bool, bool>();
        foreach (var path in KernelPaths.Supported)
        {
            foreach (bool aSigned in new[] { false, true })
            {
                foreach (bool bSigned in new[] { false, true })
                {
                    data.Add(path, aSigned, bSigned);
                }
            }
        }

        return data;
    }

    private static byte[] Bytes(int count, int seed)
    {
        var bytes = new byte[count];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    [Theory]
    [MemberData(nameof(PathsAndSigns))]
    public void MatMulInteger_equals_the_reference_bit_for_bit(KernelPath path, bool aSigned, bool bSigned)
    {
        // Extreme zero points included (a − za and b − zb reach ±255); K odd and even; N covering tile tails.
        var random = new Random(5);
        foreach (int k in new[] { 0, 1, 2, 7, 64, 301 })
        {
            foreach (int n in new[] { 1, 15, 16, 33, 64, 97, 130 })
            {
                int m = 1 + (n % 3);
                var a = Bytes(m * k, k + n);
                var b = Bytes(k * n, k * n);
                int[] aZp = n % 2 == 0 ? [aSigned ? -128 : 255] : [.. Enumerable.Range(0, m).Select(_ => aSigned ? random.Next(-128, 128) : random.Next(256))];
                int[] bZp = n % 3 == 0 ? [bSigned ? 127 : 0] : [.. Enumerable.Range(0, n).Select(_ => bSigned ? random.Next(-128, 128) : random.Next(256))];
                var expected = Int8Reference.MatMulInteger(new Int8Matrix(a, aSigned), m, k, new Int8Matrix(b, bSigned), n, aZp, bZp);
                var actual = new int[m * n];
                Int8MatMul.MatMulInteger(path, new Int8Matrix(a, aSigned), m, k, new Int8Matrix(b, bSigned), n, aZp, bZp, actual);
                Assert.Equal(expected, actual);
            }
        }
    }

    [Theory]
    [MemberData(nameof(PathsAndSigns))]
    public void Prepacked_MatMulInteger_equals_the_reference_bit_for_bit(KernelPath path, bool aSigned, bool bSigned)
    {
        // Same cases as the unpacked kernel, plus K large enough for several 16-bit partial-sum rounds.
        var random = new Random(6);
        foreach (int k in new[] { 0, 1, 3, 4, 5, 33, 64, 301, 1030 })
        {
            foreach (int n in new[] { 1, 15, 16, 17, 40, 97 })
            {
                int m = 1 + (n % 3);
                var a = Bytes(m * k, k + n + 1);
                var b = Bytes(k * n, (k * n) + 2);
                int[] aZp = n % 2 == 0 ? [aSigned ? -128 : 255] : [.. Enumerable.Range(0, m).Select(_ => aSigned ? random.Next(-128, 128) : random.Next(256))];
                int[] bZp = n % 3 == 0 ? [bSigned ? 127 : 0] : [.. Enumerable.Range(0, n).Select(_ => bSigned ? random.Next(-128, 128) : random.Next(256))];
                var expected = Int8Reference.MatMulInteger(new Int8Matrix(a, aSigned), m, k, new Int8Matrix(b, bSigned), n, aZp, bZp);
                using var packed = PackedInt8Weights.Pack(b, k, n, bSigned);
                var actual = new int[m * n];
                PackedInt8MatMul.MatMulInteger(path, packed, a, aSigned, m, aZp, bZp, actual);
                Assert.Equal(expected, actual);

                // On a VNNI CPU the 256-bit paths above took a vpdpbusd form (the native 512-bit one where the CPU has
                // AVX-512 VNNI); the C# AVX-VNNI and AVX2 forms must agree as well.
                var csharp = new int[m * n];
                PackedInt8MatMul.MatMulInteger(path, packed, a, aSigned, m, aZp, bZp, csharp, allowNative: false);
                Assert.Equal(expected, csharp);
                var avx2 = new int[m * n];
                PackedInt8MatMul.MatMulInteger(path, packed, a, aSigned, m, aZp, bZp, avx2, allowVnni: false);
                Assert.Equal(expected, avx2);
            }
        }
    }

    [Fact]
    public void Extreme_values_do_not_saturate_the_16_bit_partial_sums()
    {
        // a_u = 255 everywhere and b' = -128 everywhere: the largest partial sums the nibble split can produce.
        const int k = 1024, n = 32;
        var a = Enumerable.Repeat((byte)255, k).ToArray();
        var b = Enumerable.Repeat((byte)0x80, k * n).ToArray();
        foreach (var path in KernelPaths.Supported)
        {
            using var packed = PackedInt8Weights.Pack(b, k, n, signed: true);
            foreach ((bool allowVnni, bool allowNative) in new[] { (true, true), (true, false), (false, false) })
            {
                var actual = new int[n];
                PackedInt8MatMul.MatMulInteger(path, packed, a, false, 1, [0], [0], actual, allowVnni, allowNative);
                Assert.All(actual, v => Assert.Equal(255 * -128 * k, v));
            }
        }
    }

    [Fact]
    public void The_reference_matches_a_hand_worked_product()
    {
        // A = [[1, 2], [3, 4]] (uint8, zp 1), B = [[5, 6], [7, 8]] (int8, zp per column [0, 2]).
        int[] y = Int8Reference.MatMulInteger(new Int8Matrix([1, 2, 3, 4], false), 2, 2, new Int8Matrix([5, 6, 7, 8], true), 2, [1], [0, 2]);
        Assert.Equal([0 * 5 + 1 * 7, 0 * 4 + 1 * 6, 2 * 5 + 3 * 7, 2 * 4 + 3 * 6], y);
    }

    [Fact]
    public void Requantization_rounds_half_to_even_and_saturates()
    {
        Assert.Equal(2, Requantize.ToByte(5, 0.5f, 0, signed: false));   // 2.5 -> 2
        Assert.Equal(4, Requantize.ToByte(7, 0.5f, 0, signed: false));   // 3.5 -> 4
        Assert.Equal(255, Requantize.ToByte(1000, 1f, 0, signed: false));
        Assert.Equal(0, Requantize.ToByte(-3, 1f, 0, signed: false));
        Assert.Equal(unchecked((byte)(sbyte)-128), Requantize.ToByte(-1000, 1f, 0, signed: true));
        Assert.Equal(130, Requantize.ToByte(2, 1f, 128, signed: false));
    }
}
