using System.Runtime.InteropServices;

namespace EdgeRuntime.Kernels.Ort;

/// <summary>A tensor an op reads or writes: its data and shape, valid during one compute call.</summary>
internal readonly unsafe struct OrtTensor(void* data, long[] shape, int elementType)
{
    public void* Data { get; } = data;

    public long[] Shape { get; } = shape;

    public int ElementType { get; } = elementType;

    public long ElementCount
    {
        get
        {
            long count = 1;
            foreach (long d in Shape)
            {
                count *= d;
            }

            return count;
        }
    }
}

/// <summary>The inputs, outputs and thread pool of one compute call, through ORT's C API.</summary>
internal readonly unsafe struct KernelContext(nint context)
{
    public OrtTensor Input(int index)
    {
        nint value;
        OrtApi.Check(OrtApi.KernelContextGetInput(context, (nuint)index, &value));
        if (value == 0)
        {
            throw new ArgumentException($"Input {index} is missing.");
        }

        return Describe(value);
    }

    public OrtTensor Output(int index, long[] shape)
    {
        nint value;
        fixed (long* dims = shape)
        {
            OrtApi.Check(OrtApi.KernelContextGetOutput(context, (nuint)index, dims, (nuint)shape.Length, &value));
        }

        return Describe(value);
    }

    /// <summary>Runs fn(state, 0..total-1) on the session's intra-op threads (ORT decides the batching); returns when all are done.</summary>
    public void ParallelFor(delegate* unmanaged<void*, nuint, void> fn, int total, void* state) =>
        OrtApi.Check(OrtApi.KernelContextParallelFor(context, fn, (nuint)total, 0, state));

    private static OrtTensor Describe(nint value)
    {
        nint info;
        OrtApi.Check(OrtApi.GetTensorTypeAndShape(value, &info));
        try
        {
            int type;
            nuint rank;
            OrtApi.Check(OrtApi.GetTensorElementType(info, &type));
            OrtApi.Check(OrtApi.GetDimensionsCount(info, &rank));
            var shape = new long[(int)rank];
            fixed (long* dims = shape)
            {
                OrtApi.Check(OrtApi.GetDimensions(info, dims, rank));
            }

            void* data;
            OrtApi.Check(OrtApi.GetTensorMutableData(value, &data));
            return new OrtTensor(data, shape, type);
        }
        finally
        {
            OrtApi.ReleaseTensorTypeAndShapeInfo(info);
        }
    }
}

/// <summary>ONNXTensorElementDataType values used by our ops.</summary>
internal static class OrtElementType
{
    public const int Float = 1;
    public const int UInt8 = 2;
}

/// <summary>One custom op: its signature and its compute. Instances are immutable: ORT calls Compute concurrently.</summary>
internal abstract unsafe class CustomOp
{
    /// <summary>The name as native UTF-8, set once when the op's struct is built.</summary>
    public byte* NamePointer { get; set; }

    public abstract string Name { get; }

    public abstract int[] InputTypes { get; }

    public abstract int[] OutputTypes { get; }

    /// <summary>Throws on bad input; the bridge turns the exception into an ORT error status.</summary>
    public abstract void Compute(KernelContext context);
}

/// <summary>Native memory that lives as long as the process: op structs and their names outlive every session.</summary>
internal static unsafe class ProcessLifetime
{
    public static byte* Utf8(string text)
    {
        int length = System.Text.Encoding.UTF8.GetByteCount(text);
        byte* bytes = (byte*)NativeMemory.AllocZeroed((nuint)length + 1);
        System.Text.Encoding.UTF8.GetBytes(text, new Span<byte>(bytes, length));
        return bytes;
    }
}
