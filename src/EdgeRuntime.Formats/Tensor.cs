using System.Runtime.InteropServices;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Formats;

/// <summary>A named tensor: dtype, shape and raw little-endian bytes in C order.</summary>
public sealed record Tensor(string Name, TensorDType DType, long[] Shape, ReadOnlyMemory<byte> Data)
{
    public static Tensor FromSpan<T>(string name, TensorDType dtype, long[] shape, ReadOnlySpan<T> values)
        where T : unmanaged
    {
        var tensor = new Tensor(name, dtype, shape, MemoryMarshal.AsBytes(values).ToArray());
        tensor.CheckLength();
        return tensor;
    }

    public static Tensor Float32(string name, long[] shape, ReadOnlySpan<float> values) => FromSpan(name, TensorDType.Float32, shape, values);

    public static Tensor Int64(string name, long[] shape, ReadOnlySpan<long> values) => FromSpan(name, TensorDType.Int64, shape, values);

    public long ElementCount => TensorDTypes.ElementCount(Shape) ?? throw new InvalidOperationException($"Tensor '{Name}' has an invalid shape.");

    /// <summary>The elements reinterpreted as <typeparamref name="T"/> (copied, so alignment does not matter).</summary>
    public T[] ToArray<T>()
        where T : unmanaged => MemoryMarshal.Cast<byte, T>(Data.ToArray()).ToArray();

    public string DescribeShape() => "[" + string.Join(",", Shape) + "]";

    /// <summary>Throws when the byte length does not match shape × element size.</summary>
    public void CheckLength()
    {
        long expected = ElementCount * DType.ElementSize();
        if (Data.Length != expected)
        {
            throw new ArgumentException($"Tensor '{Name}' {DescribeShape()} {DType.Name()} needs {expected} bytes, has {Data.Length}.");
        }
    }
}
