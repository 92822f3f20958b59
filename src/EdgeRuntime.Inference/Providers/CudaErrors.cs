namespace EdgeRuntime.Inference.Providers;

/// <summary>Turns the CUDA failures people meet on Jetson boards into messages that say what to do.</summary>
public static class CudaErrors
{
    /// <summary>An explanation to append to ONNX Runtime's message, or null when the message is not one of these.</summary>
    public static string? Explain(string message)
    {
        if (message.Contains("cudaErrorNoKernelImageForDevice", StringComparison.Ordinal)
            || message.Contains("no kernel image is available", StringComparison.OrdinalIgnoreCase))
        {
            return "The CUDA kernels in this libonnxruntime were not compiled for this GPU. Jetson Orin is compute capability 8.7: "
                + "build ONNX Runtime with CMAKE_CUDA_ARCHITECTURES=87 (native/build-ort-jetson.sh) and package it with -OrtLibraryDir.";
        }

        string[] libraries = ["libcudart", "libcublas", "libcublasLt", "libcudnn", "libcufft", "libcurand", "libnvinfer", "libnvonnxparser", "libonnxruntime_providers_cuda", "libonnxruntime_providers_tensorrt"];
        if (message.Contains("cannot open shared object file", StringComparison.Ordinal))
        {
            string? missing = libraries.FirstOrDefault(l => message.Contains(l, StringComparison.Ordinal));
            if (missing is not null)
            {
                string package = missing switch
                {
                    "libcudnn" => "cuDNN 9 (JetPack 6: apt install nvidia-cudnn)",
                    "libnvinfer" or "libnvonnxparser" => "TensorRT 10 (JetPack 6: apt install nvidia-tensorrt)",
                    "libonnxruntime_providers_cuda" or "libonnxruntime_providers_tensorrt" => "the provider libraries built beside libonnxruntime.so (native/build-ort-jetson.sh puts them in its output folder)",
                    _ => "the CUDA 12 runtime (JetPack 6: apt install nvidia-jetpack, or cuda-libraries-12-6)",
                };
                return $"{missing} is missing: install {package}, and check that its folder is on the loader path (ldconfig -p | grep {missing}).";
            }
        }

        if (message.Contains("CUDA failure 100", StringComparison.Ordinal) || message.Contains("no CUDA-capable device", StringComparison.OrdinalIgnoreCase))
        {
            return "No CUDA device is visible to edged: check that the service's user is in the 'video' group and that /dev/nvhost-* and /dev/nvmap are allowed by the unit.";
        }

        return null;
    }

    public static string WithExplanation(string message) => Explain(message) is { } explanation ? $"{message} ({explanation})" : message;
}
