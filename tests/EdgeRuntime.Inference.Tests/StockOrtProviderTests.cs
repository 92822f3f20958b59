using EdgeRuntime.Inference;
using EdgeRuntime.Inference.Providers;
using EdgeRuntime.Protocol;
using Microsoft.ML.OnnxRuntime;

namespace EdgeRuntime.Inference.Tests;

/// <summary>
/// The provider policy against the real, stock ONNX Runtime package: CPU only, so QNN, CUDA and TensorRT are
/// genuinely unavailable, exactly as on a board whose package lacks its accelerator build.
/// </summary>
[Collection(PlacementProfileCollection.Name)]
public sealed class StockOrtProviderTests : IDisposable
{
    private readonly TestModels _models = new();

    public void Dispose() => _models.Dispose();

    private static ProviderUnavailableException AppendFails(ProviderSpec spec)
    {
        using var options = new SessionOptions();
        return Assert.Throws<ProviderUnavailableException>(() => OrtProviderBackend.Instance.Append(options, spec));
    }

    [Fact]
    public void The_stock_package_reports_only_the_cpu_provider()
    {
        Assert.Equal(["CPUExecutionProvider"], OrtProviderBackend.Instance.AvailableProviders);
    }

    [Fact]
    public void Qnn_by_name_is_not_supported_in_this_build()
    {
        var error = AppendFails(new ProviderSpec { Name = "qnn", BackendPath = "libQnnHtp.so", HtpPerformanceMode = "burst" });
        Assert.Equal(ProviderKind.Qnn, error.Provider);
        Assert.Contains("QNN execution provider is not supported in this build", error.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("cuda", "CUDA execution provider is not enabled in this build")]
    [InlineData("tensorrt", "TensorRT execution provider is not enabled in this build")]
    public void Cuda_and_tensorrt_through_their_dedicated_calls_are_not_enabled_in_this_build(string name, string message)
    {
        var error = AppendFails(new ProviderSpec { Name = name, DeviceId = 0 });
        Assert.Contains(message, error.Reason, StringComparison.Ordinal);
        Assert.Contains("native/build-ort-jetson.sh", error.Remedy, StringComparison.Ordinal);
    }

    [Fact]
    public void A_qnn_plugin_library_that_is_not_there_is_reported_with_its_path()
    {
        var error = AppendFails(new ProviderSpec { Name = "qnn", PluginLibrary = "/opt/qcom/missing/libonnxruntime_providers_qnn.so" });
        Assert.Contains("could not be registered", error.Reason, StringComparison.Ordinal);
        Assert.Contains("/opt/qcom/missing/libonnxruntime_providers_qnn.so", error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fallback_loads_on_cpu_with_warnings_and_the_model_runs()
    {
        var options = new InferenceOptions { Providers = new([new ProviderSpec { Name = "qnn" }, new ProviderSpec { Name = "cuda" }, new ProviderSpec()], MissingProviderAction.Fallback) };
        using var registry = new ModelRegistry(_models.Directory, options);
        var model = await registry.LoadAsync("qdq", "qdq_add.onnx");
        Assert.Equal(["CPUExecutionProvider"], model.Providers);
        Assert.Equal(2, model.Warnings.Length);
        Assert.Contains("QNN execution provider is not supported in this build", model.Warnings[0], StringComparison.Ordinal);
        Assert.Contains("CUDA execution provider is not enabled in this build", model.Warnings[1], StringComparison.Ordinal);
        Assert.Equal(model.Warnings, model.ToInfo().Warnings);

        // The warm-up run showed where every node ran: all three on the CPU (ORT may fuse the Q/DQ pair).
        var placement = model.Placement;
        Assert.NotEmpty(placement.Nodes);
        Assert.All(placement.Nodes, n => Assert.Equal("CPUExecutionProvider", n.Provider));
        Assert.Contains(placement.Nodes, n => n.OpType == "Add");
    }

    [Fact]
    public async Task Fail_refuses_the_load_through_the_registry()
    {
        var options = new InferenceOptions { Providers = new([new ProviderSpec { Name = "qnn" }, new ProviderSpec()], MissingProviderAction.Fallback) };
        using var registry = new ModelRegistry(_models.Directory, options);
        var error = await Assert.ThrowsAsync<EdgeRuntimeException>(() => registry.LoadAsync("qdq", "qdq_add.onnx", onMissingProvider: "fail"));
        Assert.Equal(ErrorCodes.ProviderUnavailable, error.Code);
        Assert.Contains("not supported in this build", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, registry.Count);
    }

    [Fact]
    public async Task A_model_whose_warm_up_fails_on_zeros_reports_placement_after_its_first_request()
    {
        using var registry = SileroRegistry();
        var model = await registry.LoadAsync("vad", SileroPath);
        Assert.Empty(model.Placement.Nodes);
        Assert.StartsWith("known after the first request", model.Placement.Note, StringComparison.Ordinal);

        await RunSileroOnceAsync(registry);

        Assert.Contains(model.Placement.Nodes, n => n.OpType == "LSTM" && n.Provider == "CPUExecutionProvider");
        Assert.StartsWith("from ORT's profile of the first request", model.Placement.Note, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Placement_is_read_after_a_run_even_while_other_requests_hold_the_model_waiting()
    {
        // Under steady load some request always holds a lease while it waits for a worker; the profile must still be
        // read (and profiling ended) once no run is on the session, or ORT profiles every run from then on.
        using var registry = SileroRegistry();
        var model = await registry.LoadAsync("vad", SileroPath);
        Assert.StartsWith("known after the first request", model.Placement.Note, StringComparison.Ordinal);

        var waiting = registry.Acquire("vad"); // a request queued behind this one
        try
        {
            await RunSileroOnceAsync(registry);
            Assert.StartsWith("from ORT's profile of the first request", model.Placement.Note, StringComparison.Ordinal);
        }
        finally
        {
            waiting.Release();
        }
    }

    /// <summary>Silero VAD: its reflect padding rejects a one-sample input, so the zero warm-up cannot run it.</summary>
    private static string SileroPath
    {
        get
        {
            string silero = Path.Combine(Repository.Root, "artifacts", "assets", "models", "silero_vad_v5.onnx");
            Assert.True(File.Exists(silero), $"{silero} is missing: run 'dotnet pwsh ./build.ps1 fetch-assets'");
            return silero;
        }
    }

    private ModelRegistry SileroRegistry() =>
        new(_models.Directory, new InferenceOptions { AllowedModelRoots = [Path.GetDirectoryName(SileroPath)!] });

    /// <summary>One 32 ms frame of silence at 16 kHz through the scheduler, as a socket request would run.</summary>
    private static async Task RunSileroOnceAsync(ModelRegistry registry)
    {
        var payload = new byte[(512 * 4) + (256 * 4) + 8];
        BitConverter.TryWriteBytes(payload.AsSpan(512 * 4 + 256 * 4), 16000L);
        TensorDescriptor[] inputs =
        [
            new("input", "float32", [1, 512], 0, 2048),
            new("state", "float32", [2, 1, 128], 2048, 1024),
            new("sr", "int64", [], 3072, 8),
        ];
        using var queue = new InferenceScheduler(new InferenceOptions());
        using (await queue.RunAsync(registry, new InferRequest("vad", inputs), payload, CancellationToken.None))
        {
        }
    }
}
