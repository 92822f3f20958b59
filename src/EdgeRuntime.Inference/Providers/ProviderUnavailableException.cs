namespace EdgeRuntime.Inference.Providers;

/// <summary>A provider this machine or this ONNX Runtime build cannot use, with what to install to get it.</summary>
public sealed class ProviderUnavailableException(ProviderKind provider, string reason, string remedy, Exception? inner = null)
    : Exception($"{ProviderNames.Name(provider)}: {reason}", inner)
{
    public ProviderKind Provider { get; } = provider;

    public string Reason { get; } = reason;

    public string Remedy { get; } = remedy;

    public static string RemedyFor(ProviderKind provider) => provider switch
    {
        ProviderKind.Qnn => "install a board package whose libonnxruntime.so was built with QNN (native/build-ort-qnn.sh with the QAIRT SDK), or set the qnn entry's pluginLibrary to Qualcomm's libonnxruntime_providers_qnn.so",
        ProviderKind.Cuda => "install a board package whose libonnxruntime.so was built with CUDA on JetPack 6 (native/build-ort-jetson.sh), with the CUDA 12 and cuDNN 9 libraries",
        ProviderKind.TensorRT => "install a board package whose libonnxruntime.so was built with TensorRT on JetPack 6 (native/build-ort-jetson.sh), with TensorRT 10",
        _ => "the CPU provider is part of every ONNX Runtime build",
    };
}
