using System.Collections.Concurrent;
using Microsoft.ML.OnnxRuntime;

namespace EdgeRuntime.Inference.Providers;

/// <summary>The execution providers of the ONNX Runtime library edged runs with, appended through their dedicated calls.</summary>
public sealed class OrtProviderBackend : IProviderBackend
{
    public static readonly OrtProviderBackend Instance = new();

    // A plugin EP library is registered once per process, under one name, and stays registered.
    private static readonly ConcurrentDictionary<string, Lazy<Exception?>> PluginRegistrations = new(StringComparer.Ordinal);

    private OrtProviderBackend()
    {
    }

    /// <summary>The loaded ONNX Runtime's version and providers: part of the QNN context-cache key.</summary>
    public static string RuntimeVersion { get; } = $"{OrtEnv.Instance().GetVersionString()} {string.Join(",", OrtEnv.Instance().GetAvailableProviders())}";

    public IReadOnlyList<string> AvailableProviders { get; } = OrtEnv.Instance().GetAvailableProviders();

    public void Append(SessionOptions options, ProviderSpec spec)
    {
        switch (spec.Kind)
        {
            case ProviderKind.Cpu:
                return;
            case ProviderKind.Qnn when spec.PluginLibrary is not null:
                AppendQnnPlugin(options, spec);
                return;
            case ProviderKind.Qnn:
                Guard(ProviderKind.Qnn, () => options.AppendExecutionProvider("QNN", QnnOptions.ProviderOptions(spec)));
                return;
            case ProviderKind.Cuda:
                Guard(ProviderKind.Cuda, () =>
                {
                    using var cuda = new OrtCUDAProviderOptions();
                    cuda.UpdateOptions(new Dictionary<string, string>(spec.Options, StringComparer.Ordinal) { ["device_id"] = Invariant(spec.DeviceId ?? 0) });
                    options.AppendExecutionProvider_CUDA(cuda);
                });
                return;
            case ProviderKind.TensorRT:
                Guard(ProviderKind.TensorRT, () =>
                {
                    using var tensorRt = new OrtTensorRTProviderOptions();
                    var values = new Dictionary<string, string>(spec.Options, StringComparer.Ordinal) { ["device_id"] = Invariant(spec.DeviceId ?? 0) };
                    if (spec.EngineCacheDirectory is not null && TryCreateDirectory(spec.EngineCacheDirectory))
                    {
                        values["trt_engine_cache_enable"] = "1";
                        values["trt_engine_cache_path"] = spec.EngineCacheDirectory;
                    }

                    tensorRt.UpdateOptions(values);
                    options.AppendExecutionProvider_Tensorrt(tensorRt);
                });
                return;
        }
    }

    public InferenceSession CreateSession(string modelPath, SessionOptions options) => new(modelPath, options);

    private static void AppendQnnPlugin(SessionOptions options, ProviderSpec spec)
    {
        var env = OrtEnv.Instance();
        string library = spec.PluginLibrary!;
        var registration = PluginRegistrations.GetOrAdd(library, path => new Lazy<Exception?>(() =>
        {
            try
            {
                env.RegisterExecutionProviderLibrary("edgeruntime_qnn", path);
                return null;
            }
            catch (OnnxRuntimeException e)
            {
                return e;
            }
        }));
        if (registration.Value is { } failure)
        {
            throw new ProviderUnavailableException(ProviderKind.Qnn, $"the plugin library could not be registered: {failure.Message}", $"install Qualcomm's QNN plugin EP at {library} (onnxruntime-qnn), or remove pluginLibrary to use a QNN build of libonnxruntime.so", failure);
        }

        bool wantHtp = QnnOptions.IsHtp(spec);
        var devices = env.GetEpDevices()
            .Where(d => d.EpName == ProviderNames.OrtName(ProviderKind.Qnn))
            .Where(d => !wantHtp || d.HardwareDevice.Type == OrtHardwareDeviceType.NPU)
            .ToList();
        if (devices.Count == 0)
        {
            throw new ProviderUnavailableException(ProviderKind.Qnn, wantHtp ? "the QNN plugin reports no NPU device" : "the QNN plugin reports no device", "check that the Hexagon DSP is up (/dev/fastrpc-*, the cdsp firmware) and that the service may open it");
        }

        Guard(ProviderKind.Qnn, () => options.AppendExecutionProvider(env, devices, QnnOptions.ProviderOptions(spec)));
    }

    private static void Guard(ProviderKind kind, Action append)
    {
        try
        {
            append();
        }
        catch (Exception e) when (e is OnnxRuntimeException or EntryPointNotFoundException or DllNotFoundException)
        {
            // Stock builds say "... is not supported in this build" (generic append) or "... is not enabled in this
            // build" (dedicated calls); a provider library that is present but cannot load says why in the message.
            string reason = CudaErrors.WithExplanation(e.Message.Trim().TrimEnd('.'));
            throw new ProviderUnavailableException(kind, reason, ProviderUnavailableException.RemedyFor(kind), e);
        }
    }

    // An unusable cache folder costs engine rebuilds, not the provider.
    private static bool TryCreateDirectory(string path)
    {
        try
        {
            Directory.CreateDirectory(path);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static string Invariant(int value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
