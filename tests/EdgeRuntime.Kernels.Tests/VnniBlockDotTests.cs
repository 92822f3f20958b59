using System.Runtime.Intrinsics.X86;
using EdgeRuntime.Kernels.LowBit;

namespace EdgeRuntime.Kernels.Tests;

/// <summary>
/// MatMulNBits' four-row block dot in its AVX-VNNI form against its AVX2 form, on random codes and activations at the
/// extremes' reach (codes up to 2^bits − 1, activations ±127): the same integers, bit for bit. On a CPU with AVX-VNNI
/// the conformance tests (<see cref="LowBitKernelTests"/>) run the VNNI form against the scalar reference; this test
/// keeps the AVX2 form checked there too.
/// </summary>
public sealed unsafe class VnniBlockDotTests
{
    [AvxVnniTheory]
    [InlineData(4, 32)]
    [InlineData(4, 64)]
    [InlineData(2, 32)]
    [InlineData(2, 96)]
    public void The_vnni_block_dot_equals_the_avx2_one(int bits, int blobBytes)
    {
        var random = new Random((bits * 1000) + blobBytes);
        long rowBytes = blobBytes + 32;
        var codes = new byte[(12 * rowBytes) + (4 * blobBytes)]; // room for the prefetch address as the caller forms it
        random.NextBytes(codes);
        var q = new sbyte[blobBytes * (8 / bits)];
        for (int i = 0; i < q.Length; i++)
        {
            q[i] = (sbyte)random.Next(-127, 128);
        }

        q[0] = 127;
        q[1] = -127;
        fixed (byte* c = codes)
        fixed (sbyte* x = q)
        {
            var avx2 = NBitsDot.Int8Block4Rows256(c, rowBytes, x, blobBytes, bits, c + (8 * rowBytes));
            var vnni = NBitsDot.Int8Block4Rows256Vnni(c, rowBytes, x, blobBytes, bits, c + (8 * rowBytes));
            Assert.Equal(avx2, vnni);
            Assert.NotEqual(System.Runtime.Intrinsics.Vector128<int>.Zero, vnni);
        }
    }
}

/// <summary>A theory that runs only where the CPU has AVX-VNNI (and AVX2), and says so when it is skipped.</summary>
public sealed class AvxVnniTheoryAttribute : TheoryAttribute
{
    public AvxVnniTheoryAttribute()
    {
        if (!AvxVnni.IsSupported || !Avx2.IsSupported)
        {
            Skip = "this CPU has no AVX-VNNI (vpdpbusd on 256-bit vectors), so there is no VNNI form to compare";
        }
    }
}
