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

    [Avx2Theory]
    [InlineData(4, 64, false)]
    [InlineData(4, 128, true)]
    [InlineData(2, 128, false)]
    [InlineData(2, 256, true)]
    public void The_decoded_block_dot_equals_the_definition_in_both_forms(int bits, int blobBytes, bool vnni)
    {
        if (vnni && !AvxVnni.IsSupported)
        {
            vnni = false; // this CPU has only the AVX2 form; check that one for this case too
        }

        // The batch path: codes unpacked to one byte each (plane order), then a plain u8 × s8 dot per row.
        var (codes, rowBytes, q) = Operands(bits, blobBytes);
        int blockSize = blobBytes * (8 / bits);
        var decoded = new byte[NBitsEightRows.Rows * blockSize];
        for (int row = 0; row < NBitsEightRows.Rows; row++)
        {
            for (int i = 0; i < blobBytes; i++)
            {
                for (int plane = 0; plane < 8 / bits; plane++)
                {
                    decoded[(row * blockSize) + (i / 32 * 32 * (8 / bits)) + (plane * 32) + (i % 32)] = (byte)((codes[(row * rowBytes) + i] >> (plane * bits)) & ((1 << bits) - 1));
                }
            }
        }

        fixed (byte* d = decoded)
        fixed (sbyte* x = q)
        {
            AssertDots(NBitsEightRows.DecodedDots(d, blockSize, x, blockSize, vnni), codes, rowBytes, q, bits, blobBytes);
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

/// <summary>A fact that runs only where the CPU has AVX2.</summary>
public sealed class Avx2FactAttribute : FactAttribute
{
    public Avx2FactAttribute()
    {
        if (!Avx2.IsSupported)
        {
            Skip = "this CPU has no AVX2";
        }
    }
}
