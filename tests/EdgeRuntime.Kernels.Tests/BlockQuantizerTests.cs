using EdgeRuntime.Kernels.LowBit;

namespace EdgeRuntime.Kernels.Tests;

/// <summary>
/// MatMulNBits' vector activation quantizer against the definition: every byte, scale and sum identical, over block
/// sizes, a K that ends mid-block, values that sit exactly on a rounding tie, and blocks holding zeros, NaN or infinity.
/// </summary>
public sealed class BlockQuantizerTests
{
    [Theory]
    [InlineData(16, 64)]
    [InlineData(32, 100)]
    [InlineData(64, 2560)]
    [InlineData(128, 6912)]
    [InlineData(128, 131)]
    [InlineData(256, 1000)]
    public void The_vector_quantizer_equals_the_definition(int blockSize, int k)
    {
        var random = new Random((blockSize * 10_000) + k);
        var x = new float[k];
        for (int i = 0; i < k; i++)
        {
            x[i] = (float)((random.NextDouble() * 2) - 1) * (i % 7 == 0 ? 30 : 1);
        }

        int blocks = (k + blockSize - 1) / blockSize;
        // Block 0 holds its maximum and exact halves of a step (ties round to even); block 1, when there is one past
        // the last, is all zeros; the next holds a NaN and the one after an infinity.
        x[0] = 127;
        x[1] = 0.5f;
        x[2] = -2.5f;
        x[3] = 1.5f;
        if (blocks > 3)
        {
            x.AsSpan(blockSize, blockSize).Clear();
            x[(2 * blockSize) + 5] = float.NaN;
            x[(3 * blockSize) + 1] = float.NegativeInfinity;
        }

        var (expected, expectedScales, expectedSums) = Run(BlockQuantizer.Quantize, x, blockSize, blocks);
        var (actual, actualScales, actualSums) = Run(BlockQuantizer.QuantizeVector, x, blockSize, blocks);

        Assert.Equal(expected, actual);
        Assert.Equal(expectedScales, actualScales);
        Assert.Equal(expectedSums, actualSums);
        Assert.Contains(expected, v => v != 0);
        if (blocks > 3)
        {
            Assert.Equal([0f, 0f, 0f], expectedScales[1..4]);
        }
    }

    private delegate void Quantizer(ReadOnlySpan<float> x, int blockSize, Span<sbyte> q, Span<float> scales, Span<int> sums);

    private static (sbyte[] Q, float[] Scales, int[] Sums) Run(Quantizer quantize, float[] x, int blockSize, int blocks)
    {
        var q = new sbyte[blocks * blockSize];
        q.AsSpan().Fill(99); // the tail past K must be written, not left as found
        var scales = new float[blocks];
        var sums = new int[blocks];
        quantize(x, blockSize, q, scales, sums);
        return (q, scales, sums);
    }
}
