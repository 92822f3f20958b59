namespace EdgeRuntime.Inference.Onnx;

/// <summary>
/// Which of the ops we have fallback kernels for each execution provider lacks, from the providers' documented
/// operator lists for ONNX Runtime 1.31 as we read them (not verified on the boards): QNN's HTP has no
/// com.microsoft.MatMulNBits; CUDA's MatMulNBits takes 4 and 8 bits only and CUDA has no QLinearMatMul kernel;
/// TensorRT does not parse MatMulNBits. The CPU provider has all of them. An unknown provider is assumed complete.
/// Where this table is wrong for a board, kernelFallback "force" or "off" overrides it.
/// </summary>
public static class ProviderOpSupport
{
    public static bool Lacks(string provider, string domain, string opType, long bits) => (provider, domain, opType) switch
    {
        ("QNNExecutionProvider", "com.microsoft", "MatMulNBits") => true,
        ("CUDAExecutionProvider", "com.microsoft", "MatMulNBits") => bits is not (4 or 8),
        ("CUDAExecutionProvider", "", "QLinearMatMul") => true,
        ("TensorrtExecutionProvider", "com.microsoft", "MatMulNBits") => true,
        _ => false,
    };
}
