using System.Buffers.Binary;
using EdgeRuntime.Generation.Families.BitNet;

namespace EdgeRuntime.Conversion.Import;

/// <summary>
/// bitnet.cpp's I2_S tensor type (ggml type 36), as its quantizer writes it: microsoft/BitNet
/// <c>src/ggml-bitnet-mad.cpp</c> quantize_i2_s (the 128-weight layout, x86 with ACT_PARALLEL, the default in
/// <c>include/gemm-config.h</c>, and the only layout before November 2025) and the same layout in
/// <c>utils/convert-hf-to-gguf-bitnet.py</c> quantize_to_i2_s; ikawrakow/ik_llama.cpp's dequantize_row_ms_i2s, written
/// to load Microsoft's published 2B4T GGUF, reads it the same way.
/// <para>
/// The tensor's n = rows·columns weights are taken row-major as one run (the row is ggml's ne[0]) and cut into blocks
/// of 128; a block is 32 bytes, and weight j of a block is in byte j % 32 at bits 6 − 2·(j / 32) as the code w + 1
/// (0, 1, 2; 3 is never written). After the n/4 bytes comes one float32, the per-tensor scale, padded to 32 bytes:
/// W = scale · w. (ggml.c's ggml_nbytes for I2_S: n/4 + 32.) The scale is max|W| of the weight_quant'ed floats, which
/// is β = mean|W| of the latent weights: it multiplies the output.
/// </para>
/// <para>
/// Not read: bitnet.cpp builds since November 2025 quantize on ARM with 64-weight blocks of 16 bytes, and on x86
/// without ACT_PARALLEL in a 4-rows-per-byte layout. A GGUF does not record which layout its bytes follow; files
/// quantized that way import with scrambled weights. Microsoft's published file predates both.
/// </para>
/// </summary>
internal static class I2sWeights
{
    public const int BlockWeights = 128;
    public const int BlockBytes = 32;

    /// <summary>The bytes an I2_S tensor of <paramref name="weights"/> weights takes (ggml_nbytes).</summary>
    public static long Bytes(long weights) => (weights / 4) + 32;

    public static TernaryMatrix Decode(string name, ReadOnlySpan<byte> data, int rows, int columns)
    {
        long n = (long)rows * columns;
        if (n % BlockWeights != 0)
        {
            throw new InvalidDataException($"{name}: {rows}x{columns} = {n} weights is not a whole number of I2_S blocks of {BlockWeights}.");
        }

        float scale = BinaryPrimitives.ReadSingleLittleEndian(data.Slice((int)(n / 4), 4));
        if (!float.IsFinite(scale) || !(scale > 0))
        {
            throw new InvalidDataException($"{name}: the I2_S scale after the weights is {scale}; it must be a positive number.");
        }

        var matrix = new TernaryBuilder(rows, columns);
        int row = 0, column = 0; // of weight (block · 128 + j): the blocks run through the rows in order
        for (long block = 0; block < n / BlockWeights; block++)
        {
            var bytes = data.Slice((int)(block * BlockBytes), BlockBytes);
            for (int j = 0; j < BlockWeights; j++)
            {
                int code = (bytes[j % BlockBytes] >> (6 - (2 * (j / BlockBytes)))) & 3;
                if (code == 3)
                {
                    throw new InvalidDataException($"{name}: weight [{row}, {column}] has the code 3 (byte {(block * BlockBytes) + (j % BlockBytes)}); I2_S codes are 0, 1, 2 for -1, 0, +1, so the tensor is corrupt.");
                }

                matrix.Set(row, column, code);
                if (++column == columns)
                {
                    (row, column) = (row + 1, 0);
                }
            }
        }

        return matrix.Build(scale);
    }
}
