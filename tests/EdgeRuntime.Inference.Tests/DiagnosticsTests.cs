using System.Text;
using EdgeRuntime.Inference.Providers;

namespace EdgeRuntime.Inference.Tests;

public sealed class DiagnosticsTests
{
    [Theory]
    [InlineData("CUDA failure 209: cudaErrorNoKernelImageForDevice ; GPU=0", "CMAKE_CUDA_ARCHITECTURES=87")]
    [InlineData("no kernel image is available for execution on the device", "compute capability 8.7")]
    [InlineData("Failed to load library libonnxruntime_providers_cuda.so with error: libcudnn.so.9: cannot open shared object file: No such file or directory", "cuDNN 9")]
    [InlineData("libcublasLt.so.12: cannot open shared object file", "CUDA 12 runtime")]
    [InlineData("libnvinfer.so.10: cannot open shared object file", "TensorRT 10")]
    [InlineData("CUDA failure 100: no CUDA-capable device is detected", "'video' group")]
    public void Cuda_failures_are_explained(string message, string advice)
    {
        string explained = CudaErrors.WithExplanation(message);
        Assert.StartsWith(message, explained, StringComparison.Ordinal);
        Assert.Contains(advice, explained, StringComparison.Ordinal);
    }

    [Fact]
    public void Other_messages_are_left_alone()
    {
        Assert.Null(CudaErrors.Explain("Invalid input name: foo"));
        Assert.Equal("x", CudaErrors.WithExplanation("x"));
    }

    [Fact]
    public void Placement_is_read_from_the_node_events_of_an_ort_profile()
    {
        const string profile = """
            [
              {"cat":"Session","pid":1,"tid":1,"dur":10,"ts":1,"ph":"X","name":"model_run","args":{}},
              {"cat":"Node","pid":1,"tid":1,"dur":3,"ts":2,"ph":"X","name":"conv1_fence_before","args":{"op_name":"Conv"}},
              {"cat":"Node","pid":1,"tid":1,"dur":3,"ts":2,"ph":"X","name":"conv1_kernel_time","args":{"op_name":"Conv","provider":"QNNExecutionProvider"}},
              {"cat":"Node","pid":1,"tid":1,"dur":3,"ts":5,"ph":"X","name":"softmax_kernel_time","args":{"op_name":"Softmax","provider":"CPUExecutionProvider"}},
              {"cat":"Node","pid":1,"tid":1,"dur":3,"ts":9,"ph":"X","name":"conv1_kernel_time","args":{"op_name":"Conv","provider":"QNNExecutionProvider"}}
            ]
            """;
        var nodes = PlacementProbe.Parse(Encoding.UTF8.GetBytes(profile));
        Assert.Equal([new("conv1", "Conv", "QNNExecutionProvider"), new("softmax", "Softmax", "CPUExecutionProvider")], nodes);
        Assert.Equal(1, PlacementProbe.CountByProvider(nodes)["QNNExecutionProvider"]);
    }
}
