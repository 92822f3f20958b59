using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using EdgeRuntime.Kernels.LowBit;

namespace EdgeRuntime.Kernels.Tests;

/// <summary>
/// MatMulNBits' eight-row block dot, in its AVX2 form and its AVX-VNNI form, against the dot written out, on random
/// codes and activations at the extremes' reach (codes up to 2^bits − 1, activations ±127): the same integers. The
/// conformance tests (<see cref="LowBitKernelTests"/>) run whichever form this CPU ships against the scalar reference;
/// these keep the other form checked too.
/// </summary>
public sealed unsafe class VnniBlockDotTests
{
    [Avx2Theory]
    [InlineData(4, 32)]
    [InlineData(4, 64)]
    [InlineData(2, 32)]
    [InlineData(2, 96)]
    public void The_avx2_block_dot_equals_the_definition(int bits, int blobBytes)
    {
        var (codes, rowBytes, q) = Operands(bits, blobBytes);
        fixed (byte* c = codes)
        fixed (sbyte* x = q)
        {
            AssertDots(NBitsEightRows.DotsAvx2(c, rowBytes, x, blobBytes, bits), codes, rowBytes, q, bits, blobBytes);
        }
    }

    [AvxVnniTheory]
    [InlineData(4, 32)]
    [InlineData(4, 64)]
    [InlineData(2, 32)]
    [InlineData(2, 96)]
    public void The_vnni_block_dot_equals_the_definition(int bits, int blobBytes)
    {
        var (codes, rowBytes, q) = Operands(bits, blobBytes);
        fixed (byte* c = codes)
        fixed (sbyte* x = q)
        {
            AssertDots(NBitsEightRows.DotsVnni(c, rowBytes, x, blobBytes, bits), codes, rowBytes, q, bits, blobBytes);
        }
    }

    private static (byte[] Codes, long RowBytes, sbyte[] Q) Operands(int bits, int blobBytes)
    {
        var random = new Random((bits * 1000) + blobBytes);
        long rowBytes = blobBytes + 32;
        var codes = new byte[NBitsEightRows.Rows * rowBytes];
        random.NextBytes(codes);
        var q = new sbyte[blobBytes * (8 / bits)];
        for (int i = 0; i < q.Length; i++)
        {
            q[i] = (sbyte)random.Next(-127, 128);
        }

        q[0] = 127;
        q[1] = -127;
        return (codes, rowBytes, q);
    }

    private static void AssertDots(Vector256<int> dots, byte[] codes, long rowBytes, sbyte[] q, int bits, int blobBytes)
    {
        for (int row = 0; row < NBitsEightRows.Rows; row++)
        {
            Assert.Equal(ScalarDot(codes.AsSpan((int)(row * rowBytes), blobBytes), q, bits), dots[row]);
        }
    }

    // The block dot written out in the 32-byte-segment plane order: plane j of byte i pairs with activation
    // (segment·32·perByte) + j·32 + i.
    private static int ScalarDot(ReadOnlySpan<byte> codes, sbyte[] q, int bits)
    {
        int perByte = 8 / bits;
        int dot = 0;
        for (int i = 0; i < codes.Length; i++)
        {
            for (int plane = 0; plane < perByte; plane++)
            {
                int code = (codes[i] >> (plane * bits)) & ((1 << bits) - 1);
                dot += code * q[(i / 32 * 32 * perByte) + (plane * 32) + (i % 32)];
            }
        }

        return dot;
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

/// <summary>A theory that runs only where the CPU has AVX2 (every x64 edged targets; not arm64).</summary>
public sealed class Avx2TheoryAttribute : TheoryAttribute
{
    public Avx2TheoryAttribute()
    {
        if (!Avx2.IsSupported)
        {
            Skip = "this CPU has no AVX2, so the 256-bit forms cannot run";
        }
    }
}
