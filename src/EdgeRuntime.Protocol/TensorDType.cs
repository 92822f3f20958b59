namespace EdgeRuntime.Protocol;

/// <summary>Tensor element types on the wire. The names follow NumPy's (float32, int64, bool...).</summary>
public enum TensorDType
{
    Float32,
    Float16,
    Float64,
    Int8,
    UInt8,
    Int16,
    UInt16,
    Int32,
    UInt32,
    Int64,
    UInt64,
    Bool,
}

public static class TensorDTypes
{
    public static string Name(this TensorDType dtype) => dtype switch
    {
        TensorDType.Float32 => "float32",
        TensorDType.Float16 => "float16",
        TensorDType.Float64 => "float64",
        TensorDType.Int8 => "int8",
        TensorDType.UInt8 => "uint8",
        TensorDType.Int16 => "int16",
        TensorDType.UInt16 => "uint16",
        TensorDType.Int32 => "int32",
        TensorDType.UInt32 => "uint32",
        TensorDType.Int64 => "int64",
        TensorDType.UInt64 => "uint64",
        TensorDType.Bool => "bool",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };

    public static bool TryParse(string? name, out TensorDType dtype)
    {
        switch (name)
        {
            case "float32": dtype = TensorDType.Float32; return true;
            case "float16": dtype = TensorDType.Float16; return true;
            case "float64": dtype = TensorDType.Float64; return true;
            case "int8": dtype = TensorDType.Int8; return true;
            case "uint8": dtype = TensorDType.UInt8; return true;
            case "int16": dtype = TensorDType.Int16; return true;
            case "uint16": dtype = TensorDType.UInt16; return true;
            case "int32": dtype = TensorDType.Int32; return true;
            case "uint32": dtype = TensorDType.UInt32; return true;
            case "int64": dtype = TensorDType.Int64; return true;
            case "uint64": dtype = TensorDType.UInt64; return true;
            case "bool": dtype = TensorDType.Bool; return true;
            default: dtype = default; return false;
        }
    }

    public static int ElementSize(this TensorDType dtype) => dtype switch
    {
        TensorDType.Int8 or TensorDType.UInt8 or TensorDType.Bool => 1,
        TensorDType.Float16 or TensorDType.Int16 or TensorDType.UInt16 => 2,
        TensorDType.Float32 or TensorDType.Int32 or TensorDType.UInt32 => 4,
        TensorDType.Float64 or TensorDType.Int64 or TensorDType.UInt64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };

    /// <summary>The element count of a shape; a rank-0 shape (scalar) has one element. Null when a dim is negative or the count overflows.</summary>
    public static long? ElementCount(ReadOnlySpan<long> shape)
    {
        long count = 1;
        foreach (long dim in shape)
        {
            if (dim < 0)
            {
                return null;
            }

            try
            {
                count = checked(count * dim);
            }
            catch (OverflowException)
            {
                return null;
            }
        }

        return count;
    }
}
