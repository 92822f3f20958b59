using System.Buffers.Binary;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Formats;

/// <summary>Tensors filled with one value: initial recurrent states, sample-rate scalars, masks.</summary>
public static class TensorFill
{
    public static Tensor Create(string name, TensorDType dtype, long[] shape, double value)
    {
        long count = TensorDTypes.ElementCount(shape) ?? throw new ArgumentException("Invalid shape.", nameof(shape));
        int size = dtype.ElementSize();
        var data = new byte[count * size];
        Span<byte> one = stackalloc byte[8];
        switch (dtype)
        {
            case TensorDType.Float32: BinaryPrimitives.WriteSingleLittleEndian(one, (float)value); break;
            case TensorDType.Float64: BinaryPrimitives.WriteDoubleLittleEndian(one, value); break;
            case TensorDType.Float16: BinaryPrimitives.WriteHalfLittleEndian(one, (Half)value); break;
            case TensorDType.Int8: one[0] = (byte)(sbyte)value; break;
            case TensorDType.UInt8: one[0] = (byte)value; break;
            case TensorDType.Bool: one[0] = value != 0 ? (byte)1 : (byte)0; break;
            case TensorDType.Int16: BinaryPrimitives.WriteInt16LittleEndian(one, (short)value); break;
            case TensorDType.UInt16: BinaryPrimitives.WriteUInt16LittleEndian(one, (ushort)value); break;
            case TensorDType.Int32: BinaryPrimitives.WriteInt32LittleEndian(one, (int)value); break;
            case TensorDType.UInt32: BinaryPrimitives.WriteUInt32LittleEndian(one, (uint)value); break;
            case TensorDType.Int64: BinaryPrimitives.WriteInt64LittleEndian(one, (long)value); break;
            default: BinaryPrimitives.WriteUInt64LittleEndian(one, (ulong)value); break;
        }

        for (long i = 0; i < count; i++)
        {
            one[..size].CopyTo(data.AsSpan((int)(i * size)));
        }

        return new Tensor(name, dtype, shape, data);
    }
}
