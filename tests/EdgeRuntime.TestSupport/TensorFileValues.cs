using System.Runtime.InteropServices;
using EdgeRuntime.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace EdgeRuntime.TestSupport;

/// <summary>ONNX Runtime values over a <see cref="TensorFile"/>'s data, for running conformance cases.</summary>
public static class TensorFileValues
{
    public static OrtValue ToOrtValue(this TensorFile tensor) => tensor.DataType switch
    {
        OnnxDataType.Float => OrtValue.CreateTensorValueFromMemory(MemoryMarshal.Cast<byte, float>(tensor.Raw).ToArray(), tensor.Dims),
        OnnxDataType.UInt8 => OrtValue.CreateTensorValueFromMemory(tensor.Raw, tensor.Dims),
        OnnxDataType.Int8 => OrtValue.CreateTensorValueFromMemory(tensor.Raw.Select(b => (sbyte)b).ToArray(), tensor.Dims),
        OnnxDataType.Int32 => OrtValue.CreateTensorValueFromMemory(MemoryMarshal.Cast<byte, int>(tensor.Raw).ToArray(), tensor.Dims),
        _ => throw new NotSupportedException($"test tensor type {tensor.DataType}"),
    };
}
