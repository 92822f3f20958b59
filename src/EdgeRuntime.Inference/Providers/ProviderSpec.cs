namespace EdgeRuntime.Inference.Providers;

/// <summary>
/// One execution provider in a board profile's ordered list, with its options. Fields that do not apply to the
/// provider named are rejected by <see cref="ProviderSpec.Validate"/>, so a QNN option on a CUDA entry is a visible mistake.
/// </summary>
// Settable rather than init: the source-generated JSON reader would otherwise assign absent members their CLR default.
public sealed record ProviderSpec
{
    /// <summary>qnn, cuda, tensorrt or cpu.</summary>
    public string Name { get; set; } = ProviderNames.Cpu;

    /// <summary>QNN: the backend library, libQnnHtp.so for the NPU (HTP), libQnnCpu.so for QNN's CPU reference backend.</summary>
    public string? BackendPath { get; set; }

    /// <summary>QNN HTP: burst, sustained_high_performance, high_performance, balanced, power_saver, ... (see docs/boards.md).</summary>
    public string? HtpPerformanceMode { get; set; }

    /// <summary>QNN: where compiled EP-context models are kept so the next load skips graph preparation.</summary>
    public string? ContextCacheDirectory { get; set; }

    /// <summary>QNN through Qualcomm's plugin EP: the path of libonnxruntime_providers_qnn.so to register.</summary>
    public string? PluginLibrary { get; set; }

    /// <summary>CUDA and TensorRT: the GPU ordinal.</summary>
    public int? DeviceId { get; set; }

    /// <summary>TensorRT: where built engines are cached (building one takes minutes on a Jetson).</summary>
    public string? EngineCacheDirectory { get; set; }

    /// <summary>Further provider options passed to ONNX Runtime as they are (provider-specific keys).</summary>
    public Dictionary<string, string> Options { get; set; } = [];

    public ProviderKind Kind => ProviderNames.Parse(Name);

    /// <summary>Null when the entry is valid; otherwise which field is wrong and why (field names relative to the entry).</summary>
    public (string Field, string Problem)? Validate()
    {
        if (!ProviderNames.TryParse(Name, out var kind))
        {
            return ("name", $"is '{Name}'; must be one of {string.Join(", ", ProviderNames.All)}");
        }

        (string, string)? NotFor(string field, object? value, params ProviderKind[] allowed) =>
            value is not null && !allowed.Contains(kind) ? (field, $"does not apply to provider '{Name}'") : null;

        var misplaced = NotFor("backendPath", BackendPath, ProviderKind.Qnn)
            ?? NotFor("htpPerformanceMode", HtpPerformanceMode, ProviderKind.Qnn)
            ?? NotFor("contextCacheDirectory", ContextCacheDirectory, ProviderKind.Qnn)
            ?? NotFor("pluginLibrary", PluginLibrary, ProviderKind.Qnn)
            ?? NotFor("deviceId", DeviceId, ProviderKind.Cuda, ProviderKind.TensorRT)
            ?? NotFor("engineCacheDirectory", EngineCacheDirectory, ProviderKind.TensorRT);
        if (misplaced is not null)
        {
            return misplaced;
        }

        if (HtpPerformanceMode is not null && !QnnOptions.PerformanceModes.Contains(HtpPerformanceMode))
        {
            return ("htpPerformanceMode", $"is '{HtpPerformanceMode}'; must be one of {string.Join(", ", QnnOptions.PerformanceModes)}");
        }

        if (DeviceId is < 0)
        {
            return ("deviceId", "must be 0 or more");
        }

        if (kind == ProviderKind.Cpu && Options.Count > 0)
        {
            return ("options", "the CPU provider takes no options here; threads come from the profile's threads section");
        }

        foreach (var (field, path) in new[] { ("contextCacheDirectory", ContextCacheDirectory), ("engineCacheDirectory", EngineCacheDirectory), ("pluginLibrary", PluginLibrary) })
        {
            if (path is not null && !System.IO.Path.IsPathFullyQualified(path))
            {
                return (field, $"is '{path}'; must be an absolute path");
            }
        }

        return null;
    }
}
