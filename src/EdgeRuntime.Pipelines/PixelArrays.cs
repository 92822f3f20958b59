using System.Runtime.InteropServices;
using EdgeRuntime.Formats;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Pipelines;

/// <summary>Pixels replayed from an .npy: float32 as stored (in [0, 1]), uint8 divided by 255.</summary>
internal static class PixelArrays
{
    /// <summary>
    /// Item <paramref name="item"/> of the <paramref name="items"/> equal parts of the array, as floats. Only that
    /// part is converted: a run picking one image of a thousand should not turn all of them into floats.
    /// </summary>
    /// <param name="what">The input's name, which starts an error message.</param>
    public static float[] Item(Tensor tensor, int item, int items, string what, string path)
    {
        int bytes = tensor.Data.Length / items;
        var slice = tensor.Data.Span.Slice(item * bytes, bytes);
        switch (tensor.DType)
        {
            case TensorDType.Float32:
                return MemoryMarshal.Cast<byte, float>(slice).ToArray();
            case TensorDType.UInt8:
                var values = new float[slice.Length];
                for (int i = 0; i < values.Length; i++)
                {
                    values[i] = slice[i] / 255f;
                }

                return values;
            default:
                throw new EdgeRuntimeException(ErrorCodes.InvalidInput, $"{what}: '{path}' holds {tensor.DType.Name()}; use uint8 pixels or float32 in [0,1].");
        }
    }
}
