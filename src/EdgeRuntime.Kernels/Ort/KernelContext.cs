using System.Runtime.InteropServices;

namespace EdgeRuntime.Kernels.Ort;

/// <summary>A tensor an op reads or writes: its data and shape, valid during one compute call.</summary>
internal readonly unsafe struct OrtTensor(void* data, TensorShape shape, int elementType)
{
    public void* Data { get; } = data;

    public TensorShape Shape { get; } = shape;

    public int ElementType { get; } = elementType;

    public long ElementCount => Shape.Product();
}

/// <summary>The inputs, outputs and thread pool of one compute call, through ORT's C API.</summary>
internal readonly unsafe struct KernelContext(nint context)
{
    public OrtTensor Input(int index) =>
        TryInput(index) ?? throw new ArgumentException($"Input {index} is missing.");

    /// <summary>An optional input, or null when the node leaves it out.</summary>
    public OrtTensor? TryInput(int index)
    {
        nuint count;
        OrtApi.Check(OrtApi.KernelContextGetInputCount(context, &count));
        if ((nuint)index >= count)
        {
            return null;
        }

        nint value;
        OrtApi.Check(OrtApi.KernelContextGetInput(context, (nuint)index, &value));
        return value == 0 ? null : Describe(value);
    }

    public OrtTensor Output(int index, TensorShape shape)
    {
        nint value;
        fixed (long* dims = shape.Dimensions)
        {
            OrtApi.Check(OrtApi.KernelContextGetOutput(context, (nuint)index, dims, (nuint)shape.Length, &value));
        }

        return Describe(value);
    }

    /// <summary>Runs fn(state, 0..total-1) on the session's intra-op threads (ORT decides the batching); returns when all are done.</summary>
    public void ParallelFor(delegate* unmanaged<void*, nuint, void> fn, int total, void* state) =>
        OrtApi.Check(OrtApi.KernelContextParallelFor(context, fn, (nuint)total, 0, state));

    internal static OrtTensor Describe(nint value)
    {
        nint info;
        OrtApi.Check(OrtApi.GetTensorTypeAndShape(value, &info));
        try
        {
            int type;
            nuint rank;
            OrtApi.Check(OrtApi.GetTensorElementType(info, &type));
            OrtApi.Check(OrtApi.GetDimensionsCount(info, &rank));
            var shape = TensorShape.Of((int)rank);
            fixed (long* dims = shape.Dimensions)
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
    public const int Int8 = 3;
    public const int Int32 = 6;
    public const int Int64 = 7;
}

/// <summary>A node's attributes while its kernel is created (valid only during that call).</summary>
internal readonly unsafe struct KernelInfo(nint info)
{
    public long Int64(string name, long fallback)
    {
        byte* utf8 = stackalloc byte[128];
        long value;
        return OrtApi.KernelInfoGetAttributeInt64(info, Utf8(name, utf8), &value) is var status && status == 0 ? value : Release(status, fallback);
    }

    public float Float(string name, float fallback)
    {
        byte* utf8 = stackalloc byte[128];
        float value;
        return OrtApi.KernelInfoGetAttributeFloat(info, Utf8(name, utf8), &value) is var status && status == 0 ? value : Release(status, fallback);
    }

    /// <summary>An input that is a constant initializer (its data stays valid for the session's life), or null.</summary>
    public OrtTensor? ConstantInput(int index)
    {
        int isConstant;
        nint value;
        nint status = OrtApi.KernelInfoGetConstantInputTensor(info, (nuint)index, &isConstant, &value);
        if (status != 0)
        {
            OrtApi.ReleaseStatus(status);
            return null;
        }

        return isConstant != 0 && value != 0 ? KernelContext.Describe(value) : null;
    }

    public long RequiredInt64(string name)
    {
        byte* utf8 = stackalloc byte[128];
        long value;
        OrtApi.Check(OrtApi.KernelInfoGetAttributeInt64(info, Utf8(name, utf8), &value));
        return value;
    }

    private static T Release<T>(nint status, T fallback)
    {
        OrtApi.ReleaseStatus(status);
        return fallback;
    }

    private static byte* Utf8(string name, byte* buffer)
    {
        int length = System.Text.Encoding.UTF8.GetBytes(name, new Span<byte>(buffer, 127));
        buffer[length] = 0;
        return buffer;
    }
}

/// <summary>
/// One custom op: its signature and a kernel per node. Ops and kernels are immutable once built: ORT calls Compute
/// concurrently.
/// </summary>
internal abstract unsafe class CustomOp
{
    /// <summary>The name as native UTF-8, set once when the op's struct is built.</summary>
    public byte* NamePointer { get; set; }

    public abstract string Name { get; }

    public abstract int[] InputTypes { get; }

    /// <summary>Inputs from this index on are optional.</summary>
    public virtual int RequiredInputs => InputTypes.Length;

    public abstract int[] OutputTypes { get; }

    /// <summary>Reads the node's attributes; throws (reported as an ORT error) when they are unusable.</summary>
    public abstract OpKernel CreateKernel(KernelInfo info);
}

/// <summary>One node's kernel.</summary>
internal abstract class OpKernel
{
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
