using EdgeRuntime.Kernels.Ort;
using Microsoft.ML.OnnxRuntime;

namespace EdgeRuntime.Inference;

/// <summary>
/// Builds ONNX Runtime sessions the one way edged and its benchmarks both use, so that an in-process baseline runs
/// with exactly the daemon's settings.
/// </summary>
public static class SessionFactory
{
    public const string CpuProvider = "CPUExecutionProvider";

    public static SessionOptions CreateOptions(InferenceOptions options)
    {
        var sessionOptions = new SessionOptions
        {
            IntraOpNumThreads = options.IntraOpThreads,
            InterOpNumThreads = options.InterOpThreads,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,

            // Failures come back to the caller as exceptions with the same text; ORT's own log lines would only repeat them.
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL,
        };

        // Our C# kernels (ai.edgeruntime: BitLinear, ...) are available to every model edged loads.
        CustomOpDomain.Register(sessionOptions);
        return sessionOptions;
    }

    public static InferenceSession Create(string path, InferenceOptions options)
    {
        using var sessionOptions = CreateOptions(options);
        return new InferenceSession(path, sessionOptions);
    }
}
