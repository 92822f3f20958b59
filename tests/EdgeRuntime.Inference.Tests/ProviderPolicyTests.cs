using EdgeRuntime.Inference;
using EdgeRuntime.Inference.Providers;
using EdgeRuntime.Protocol;
using Microsoft.ML.OnnxRuntime;

namespace EdgeRuntime.Inference.Tests;

/// <summary>The provider policy with availability chosen by the test (no hardware needed).</summary>
[Collection(PlacementProfileCollection.Name)]
public sealed class ProviderPolicyTests : IDisposable
{
    private readonly TestModels _models = new();

    public void Dispose() => _models.Dispose();

    private static ProviderChoice Board(MissingProviderAction action, params ProviderSpec[] providers) => new([.. providers, new ProviderSpec()], action);

    private static ProviderSpec Qnn(string? cache = null) => new() { Name = "qnn", BackendPath = "libQnnHtp.so", ContextCacheDirectory = cache };

    private static ProviderSpec Cuda => new() { Name = "cuda", DeviceId = 0 };

    [Fact]
    public void Available_providers_are_used_in_the_profile_order_with_cpu_last()
    {
        var builder = new SessionBuilder(new FakeProviderBackend([ProviderKind.Qnn, ProviderKind.Cuda]));
        var created = builder.Create(_models.QdqAdd, new InferenceOptions(), Board(MissingProviderAction.Fallback, Qnn(), Cuda), profileFirstRun: false);
        using var session = created.Session;
        Assert.Equal(["QNNExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"], created.Providers);
        Assert.Empty(created.Warnings);
    }

    [Fact]
    public void Fallback_skips_missing_providers_and_says_so()
    {
        var builder = new SessionBuilder(new FakeProviderBackend([]));
        var created = builder.Create(_models.QdqAdd, new InferenceOptions(), Board(MissingProviderAction.Fallback, Qnn(), Cuda), profileFirstRun: false);
        using var session = created.Session;
        Assert.Equal(["CPUExecutionProvider"], created.Providers);
        Assert.Equal(2, created.Warnings.Length);
        Assert.StartsWith("qnn unavailable (QNNExecutionProvider is not supported in this build)", created.Warnings[0], StringComparison.Ordinal);
        Assert.StartsWith("cuda unavailable", created.Warnings[1], StringComparison.Ordinal);
        Assert.All(created.Warnings, w => Assert.EndsWith("loaded on CPUExecutionProvider", w, StringComparison.Ordinal));
    }

    [Fact]
    public void Fallback_keeps_the_providers_that_are_there()
    {
        var builder = new SessionBuilder(new FakeProviderBackend([ProviderKind.Cuda]));
        var created = builder.Create(_models.QdqAdd, new InferenceOptions(), Board(MissingProviderAction.Fallback, Qnn(), Cuda), profileFirstRun: false);
        using var session = created.Session;
        Assert.Equal(["CUDAExecutionProvider", "CPUExecutionProvider"], created.Providers);
        Assert.Single(created.Warnings);
    }

    [Fact]
    public void Fail_refuses_the_load_and_says_what_to_install()
    {
        var builder = new SessionBuilder(new FakeProviderBackend([ProviderKind.Cuda]));
        var error = Assert.Throws<EdgeRuntimeException>(() => builder.Create(_models.QdqAdd, new InferenceOptions(), Board(MissingProviderAction.Fail, Qnn(), Cuda), profileFirstRun: false));
        Assert.Equal(ErrorCodes.ProviderUnavailable, error.Code);
        Assert.Contains("'qnn' is required (onMissingProvider: fail)", error.Message, StringComparison.Ordinal);
        Assert.Contains("native/build-ort-qnn.sh", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_provider_that_fails_when_the_session_is_built_falls_back_to_the_next()
    {
        var backend = new FakeProviderBackend([ProviderKind.Qnn, ProviderKind.Cuda], failsAtSession: [ProviderKind.Qnn]);
        var created = new SessionBuilder(backend).Create(_models.QdqAdd, new InferenceOptions(), Board(MissingProviderAction.Fallback, Qnn(), Cuda), profileFirstRun: false);
        using var session = created.Session;
        Assert.Equal(["CUDAExecutionProvider", "CPUExecutionProvider"], created.Providers);
        Assert.StartsWith("qnn failed to initialise", Assert.Single(created.Warnings), StringComparison.Ordinal);
    }

    [Fact]
    public void Under_fail_a_provider_that_fails_at_session_creation_is_refused_but_a_corrupt_model_is_a_load_failure()
    {
        var backend = new FakeProviderBackend([ProviderKind.Qnn], failsAtSession: [ProviderKind.Qnn]);
        var refused = Assert.Throws<EdgeRuntimeException>(() => new SessionBuilder(backend).Create(_models.QdqAdd, new InferenceOptions(), Board(MissingProviderAction.Fail, Qnn()), profileFirstRun: false));
        Assert.Equal(ErrorCodes.ProviderUnavailable, refused.Code);

        // The model itself is broken: ORT's own error, which the registry reports as model_load_failed.
        var cuda = new FakeProviderBackend([ProviderKind.Cuda]);
        Assert.Throws<OnnxRuntimeException>(() => new SessionBuilder(cuda).Create(_models.Corrupt, new InferenceOptions(), Board(MissingProviderAction.Fail, Cuda), profileFirstRun: false));
    }

    [Fact]
    public void Qnn_htp_is_not_offered_a_dynamic_float_model_and_the_reason_is_given()
    {
        var builder = new SessionBuilder(new FakeProviderBackend([ProviderKind.Qnn]));
        var created = builder.Create(_models.Mlp, new InferenceOptions(), Board(MissingProviderAction.Fallback, Qnn()), profileFirstRun: false);
        using var session = created.Session;
        Assert.Equal(["CPUExecutionProvider"], created.Providers);
        string warning = Assert.Single(created.Warnings);
        Assert.Contains("dynamic input shapes (x[N,16])", warning, StringComparison.Ordinal);
        Assert.Contains("not quantized (QDQ)", warning, StringComparison.Ordinal);

        var refused = Assert.Throws<EdgeRuntimeException>(() => builder.Create(_models.Mlp, new InferenceOptions(), Board(MissingProviderAction.Fail, Qnn()), profileFirstRun: false));
        Assert.Equal(ErrorCodes.ProviderUnavailable, refused.Code);
        Assert.Contains("not fit for the NPU", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_qnn_context_cache_is_written_on_first_load_and_loaded_on_the_next()
    {
        string cache = Path.Combine(_models.Directory, "qnn-cache");
        var backend = new FakeProviderBackend([ProviderKind.Qnn]);
        var builder = new SessionBuilder(backend);
        var board = Board(MissingProviderAction.Fallback, Qnn(cache));

        var first = builder.Create(_models.QdqAdd, new InferenceOptions(), board, profileFirstRun: false);
        first.Session.Dispose();
        string expected = QnnOptions.ContextCachePath(cache, _models.QdqAdd, OrtProviderBackend.RuntimeVersion);
        Assert.Equal(_models.QdqAdd, first.LoadedFrom);
        Assert.Contains(first.Warnings, w => w.Contains($"written to {expected}", StringComparison.Ordinal));
        Assert.True(Directory.Exists(cache));

        // ORT with QNN writes the EP-context model there; stand in for it with a loadable model.
        File.Copy(_models.QdqAdd, expected);
        var second = builder.Create(_models.QdqAdd, new InferenceOptions(), board, profileFirstRun: false);
        second.Session.Dispose();
        Assert.Equal(expected, second.LoadedFrom);
        Assert.Equal(expected, backend.SessionPaths[^1]);
    }

    [Fact]
    public void A_cached_context_that_no_longer_loads_is_removed_and_compiled_again()
    {
        string cache = Path.Combine(_models.Directory, "qnn-cache");
        var backend = new FakeProviderBackend([ProviderKind.Qnn]);
        string stale = QnnOptions.ContextCachePath(cache, _models.QdqAdd, OrtProviderBackend.RuntimeVersion);
        Directory.CreateDirectory(cache);
        File.WriteAllText(stale, "cut short while being written");

        var created = new SessionBuilder(backend).Create(_models.QdqAdd, new InferenceOptions(), Board(MissingProviderAction.Fallback, Qnn(cache)), profileFirstRun: false);
        created.Session.Dispose();
        Assert.Equal(_models.QdqAdd, created.LoadedFrom);
        Assert.Equal(["QNNExecutionProvider", "CPUExecutionProvider"], created.Providers);
        Assert.False(File.Exists(stale));
        Assert.Contains(created.Warnings, w => w.Contains("did not load and was removed", StringComparison.Ordinal));
        Assert.Contains(created.Warnings, w => w.Contains("written to", StringComparison.Ordinal));
    }

    [Fact]
    public void Under_fail_a_second_provider_does_not_stand_in_for_a_failed_first()
    {
        var backend = new FakeProviderBackend([ProviderKind.TensorRT, ProviderKind.Cuda], failsAtSession: [ProviderKind.TensorRT]);
        var board = Board(MissingProviderAction.Fail, new ProviderSpec { Name = "tensorrt" }, Cuda);
        var error = Assert.Throws<EdgeRuntimeException>(() => new SessionBuilder(backend).Create(_models.QdqAdd, new InferenceOptions(), board, profileFirstRun: false));
        Assert.Equal(ErrorCodes.ProviderUnavailable, error.Code);
        Assert.Contains("tensorrt, cuda", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_failed_session_leaves_no_profile_behind()
    {
        string pattern = $"edged-placement-{Environment.ProcessId}-*";
        var before = Directory.GetFiles(Path.GetTempPath(), pattern).ToHashSet();
        var backend = new FakeProviderBackend([ProviderKind.Qnn], failsAtSession: [ProviderKind.Qnn]);
        var created = new SessionBuilder(backend).Create(_models.QdqAdd, new InferenceOptions(), Board(MissingProviderAction.Fallback, Qnn()), profileFirstRun: true);
        PlacementProbe.Harvest(created.Session, "test");
        created.Session.Dispose();
        Assert.Throws<OnnxRuntimeException>(() => new SessionBuilder(backend).Create(_models.Corrupt, new InferenceOptions(), Board(MissingProviderAction.Fallback), profileFirstRun: true));
        Assert.DoesNotContain(Directory.GetFiles(Path.GetTempPath(), pattern), f => !before.Contains(f));
    }

    [Fact]
    public void The_context_cache_file_changes_when_the_model_changes()
    {
        static string Hash(string path) => Path.GetFileName(path).Split('.')[1];
        string a = QnnOptions.ContextCachePath("/cache", _models.QdqAdd, "1.31.1 QNN");
        Assert.StartsWith("/cache/qdq_add.", a, StringComparison.Ordinal);
        Assert.EndsWith(".qnn_ctx.onnx", a, StringComparison.Ordinal);
        Assert.Equal(a, QnnOptions.ContextCachePath("/cache", _models.QdqAdd, "1.31.1 QNN"));
        Assert.NotEqual(Hash(a), Hash(QnnOptions.ContextCachePath("/cache", _models.QdqAdd, "1.32.0 QNN")));

        string edited = Path.Combine(_models.Directory, "qdq_add_edited.onnx");
        File.WriteAllBytes(edited, [.. File.ReadAllBytes(_models.QdqAdd), 0]);
        Assert.NotEqual(Hash(a), Hash(QnnOptions.ContextCachePath("/cache", edited, "1.31.1 QNN")));
        Assert.Equal([("ep.context_enable", "1"), ("ep.context_file_path", a), ("ep.context_embed_mode", "1")], SessionBuilder.QnnContextCacheEntries(a));
    }

    [Fact]
    public void A_model_can_override_the_board_providers_by_name_and_keeps_the_board_options()
    {
        var options = new InferenceOptions { Providers = Board(MissingProviderAction.Fallback, Qnn("/var/cache/q"), Cuda) };
        using var registry = new ModelRegistry(_models.Directory, options, new SessionBuilder(new FakeProviderBackend([])));
        var choice = registry.ResolveChoice(["qnn", "cpu"], "fail");
        Assert.Equal(MissingProviderAction.Fail, choice.OnMissing);
        Assert.Equal("/var/cache/q", choice.Providers[0].ContextCacheDirectory);
        Assert.Equal(["qnn", "cpu"], choice.Providers.Select(p => p.Name));
        Assert.Equal("tensorrt", registry.ResolveChoice(["tensorrt"], null).Providers[0].Name);
        Assert.Same(options.Providers.Providers, registry.ResolveChoice(null, null).Providers);

        Assert.Equal(ErrorCodes.BadRequest, Assert.Throws<EdgeRuntimeException>(() => registry.ResolveChoice(["npu"], null)).Code);
        Assert.Equal(ErrorCodes.BadRequest, Assert.Throws<EdgeRuntimeException>(() => registry.ResolveChoice(null, "sometimes")).Code);
    }
}
