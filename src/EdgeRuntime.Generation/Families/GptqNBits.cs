using EdgeRuntime.Generation.Families.Lfm2;
using EdgeRuntime.Kernels.LowBit;

namespace EdgeRuntime.Generation.Families;

/// <summary>
/// MatMulNBits' int4 weights (asymmetric, a scale and zero point per block) rounded by <see cref="GptqRounding"/>:
/// each block's scale and zero point are searched on the block's weights as GPTQ has moved them when the block is
/// reached, then the block is rounded input by input onto that grid.
/// </summary>
internal static class GptqNBits
{
    public static NBitsWeights Quantize(DenseMatrix matrix, int block, GptqRounding gptq)
    {
        var shape = new NBitsShape(matrix.Rows, matrix.Columns, 4, block);
        var b = new byte[shape.N * shape.RowBytes];
        var scales = new float[shape.N * shape.KBlocks];
        var zeroPoints = new byte[shape.N * shape.ZeroPointRowBytes];
        var row = new float[matrix.Columns];
        var blockScale = new float[shape.KBlocks];
        var blockZero = new int[shape.KBlocks];
        var blockShape = new NBitsShape(1, block, 4, block);
        for (int n = 0; n < shape.N; n++)
        {
            matrix.Values.AsSpan(n * matrix.Columns, matrix.Columns).CopyTo(row);
            void ChooseGrid(int index, ReadOnlySpan<float> current)
            {
                // The searched asymmetric grid of this block alone (zero-padded to a whole block, as the kernel sees it).
                var values = new float[block];
                current.Slice(index * block, Math.Min(block, matrix.Columns - (index * block))).CopyTo(values);
                var one = NBitsWeights.Quantize(values, blockShape, zeroPoints: true, searchScale: true);
                blockScale[index] = one.Scales[0];
                blockZero[index] = one.ZeroPoints![0] & 0xF;
            }

            float Round(int k, float value)
            {
                int index = k / block;
                float scale = blockScale[index];
                if (scale == 0)
                {
                    return 0;
                }

                int code = Math.Clamp((int)MathF.Round(value / scale) + blockZero[index], 0, 15);
                return (code - blockZero[index]) * scale;
            }

            gptq.Round(row, block, ChooseGrid, Round);
            for (int index = 0; index < shape.KBlocks; index++)
            {
                scales[(n * shape.KBlocks) + index] = blockScale[index];
                int bit = index * 4;
                zeroPoints[(n * shape.ZeroPointRowBytes) + (bit / 8)] |= (byte)(blockZero[index] << (bit % 8));
            }

            for (int k = 0; k < matrix.Columns; k++)
            {
                int index = k / block, i = k % block;
                int code = blockScale[index] == 0 ? blockZero[index] : Math.Clamp((int)MathF.Round(row[k] / blockScale[index]) + blockZero[index], 0, 15);
                b[(n * shape.RowBytes) + (index * shape.BlobBytes) + (i / 2)] |= (byte)(code << ((i % 2) * 4));
            }

            // Inputs past K in the last block hold the zero point, which dequantizes to 0.
            for (int k = matrix.Columns; k < shape.PaddedK; k++)
            {
                int index = k / block, i = k % block;
                b[(n * shape.RowBytes) + (index * shape.BlobBytes) + (i / 2)] |= (byte)(blockZero[index] << ((i % 2) * 4));
            }
        }

        return new NBitsWeights(shape, b, scales, zeroPoints);
    }
}
