using EdgeRuntime.Protocol;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EdgeRuntime.Inference;

/// <summary>Maps ONNX Runtime element types to the protocol's dtypes.</summary>
public static class ElementTypes
{
    public static bool TryToDType(TensorElementType type, out TensorDType dtype)
    {
        switch (type)
        {
            case TensorElementType.Float: dtype = TensorDType.Float32; return true;
            case TensorElementType.Float16: dtype = TensorDType.Float16; return true;
            case TensorElementType.Double: dtype = TensorDType.Float64; return true;
            case TensorElementType.Int8: dtype = TensorDType.Int8; return true;
            case TensorElementType.UInt8: dtype = TensorDType.UInt8; return true;
            case TensorElementType.Int16: dtype = TensorDType.Int16; return true;
            case TensorElementType.UInt16: dtype = TensorDType.UInt16; return true;
            case TensorElementType.Int32: dtype = TensorDType.Int32; return true;
            case TensorElementType.UInt32: dtype = TensorDType.UInt32; return true;
            case TensorElementType.Int64: dtype = TensorDType.Int64; return true;
            case TensorElementType.UInt64: dtype = TensorDType.UInt64; return true;
            case TensorElementType.Bool: dtype = TensorDType.Bool; return true;
            default: dtype = default; return false;
        }
    }

    public static TensorElementType ToElementType(TensorDType dtype) => dtype switch
    {
        TensorDType.Float32 => TensorElementType.Float,
        TensorDType.Float16 => TensorElementType.Float16,
        TensorDType.Float64 => TensorElementType.Double,
        TensorDType.Int8 => TensorElementType.Int8,
        TensorDType.UInt8 => TensorElementType.UInt8,
        TensorDType.Int16 => TensorElementType.Int16,
        TensorDType.UInt16 => TensorElementType.UInt16,
        TensorDType.Int32 => TensorElementType.Int32,
        TensorDType.UInt32 => TensorElementType.UInt32,
        TensorDType.Int64 => TensorElementType.Int64,
        TensorDType.UInt64 => TensorElementType.UInt64,
        TensorDType.Bool => TensorElementType.Bool,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };

    /// <summary>A name for types the protocol cannot carry (strings, bfloat16...), used in error messages.</summary>
    public static string Describe(TensorElementType type) =>
        TryToDType(type, out var dtype) ? dtype.Name() : type.ToString().ToLowerInvariant();
}
