namespace EdgeRuntime.Onnx;

/// <summary>Operator-set domains the project reads and writes. One definition, so the kernels that register an op,
/// the load-time rewrite that moves nodes onto them and the converter that emits them cannot drift apart.</summary>
public static class OnnxDomains
{
    /// <summary>ONNX's own operators (written as the empty string; "ai.onnx" means the same).</summary>
    public const string Default = "";

    /// <summary>ONNX's own operators, spelled out.</summary>
    public const string AiOnnx = "ai.onnx";

    /// <summary>ONNX Runtime's contrib operators (MatMulNBits, GroupQueryAttention, ...).</summary>
    public const string Microsoft = "com.microsoft";

    /// <summary>Our C# kernels registered as ONNX Runtime custom ops (BitLinear and the fallbacks).</summary>
    public const string EdgeRuntime = "ai.edgeruntime";
}
