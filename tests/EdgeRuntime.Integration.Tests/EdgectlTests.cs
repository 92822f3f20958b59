using EdgeRuntime.Client;
using EdgeRuntime.Protocol;
using EdgeRuntime.Formats;

namespace EdgeRuntime.Integration.Tests;

/// <summary>edgectl against the published daemon: what a person at a shell sees.</summary>
public sealed class EdgectlTests(SharedDaemon daemon) : IClassFixture<SharedDaemon>
{
    private EdgedProcess Edged => daemon.Edged;

    /// <summary>Writes x as float32 [2,3] into a fresh folder and returns the "x=PATH" argument for edgectl.</summary>
    private static string InputArgument(string name, params float[] x)
    {
        string path = Path.Combine(Directory.CreateTempSubdirectory("edgectl-").FullName, "x.npy");
        NpyFile.Write(path, Tensor.Float32("x", [2, 3], x.Length == 0 ? new float[6] : x));
        return $"{name}={path}";
    }

    [Fact]
    public async Task Status_shows_version_board_providers_and_health()
    {
        var result = await Edged.EdgectlAsync("status");
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("edged 0.1.0, protocol 1, board host", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("CPUExecutionProvider", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("health       ok", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Status_json_is_one_object_with_hello_and_health()
    {
        var result = await Edged.EdgectlAsync("status", "--json");
        Assert.Equal(0, result.ExitCode);
        using var document = System.Text.Json.JsonDocument.Parse(result.Stdout);
        Assert.Equal(1, document.RootElement.GetProperty("hello").GetProperty("protocolVersion").GetInt32());
        Assert.Equal("ok", document.RootElement.GetProperty("health").GetProperty("status").GetString());
        // The platform names the form each kernel runs, as the shipped binary chose it on this CPU.
        string platform = document.RootElement.GetProperty("hello").GetProperty("platform").GetString()!;
        string extension = System.Runtime.Intrinsics.X86.AvxVnni.IsSupported ? "AvxVnni" : "Avx2";
        Assert.Contains($"MatMulNBits int8=Vector256 8 rows+{extension},", platform, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Models_and_info_describe_the_preloaded_models()
    {
        var models = await Edged.EdgectlAsync("models");
        Assert.Equal(0, models.ExitCode);
        Assert.Contains("add", models.Stdout, StringComparison.Ordinal);
        Assert.Contains("mlp", models.Stdout, StringComparison.Ordinal);

        var info = await Edged.EdgectlAsync("info", "mlp");
        Assert.Equal(0, info.ExitCode);
        Assert.Matches(@"x\s+float32\s+\[N,64\]", info.Stdout);
        Assert.Matches(@"y\s+float32\s+\[N,8\]", info.Stdout);
        Assert.Contains("providers  CPUExecutionProvider", info.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Infer_reads_npy_inputs_and_writes_npy_outputs()
    {
        string work = Directory.CreateTempSubdirectory("edgectl-").FullName;
        var result = await Edged.EdgectlAsync("infer", "add", "--input", InputArgument("x", 10, 20, 30, 40, 50, 60), "--output-dir", Path.Combine(work, "out"));

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("round trip", result.Stdout, StringComparison.Ordinal);
        var y = NpyFile.Read(Path.Combine(work, "out", "y.npy"));
        Assert.Equal([2L, 3L], y.Shape);
        Assert.Equal([11f, 22f, 33f, 44f, 55f, 66f], y.ToArray<float>());
    }

    [Fact]
    public async Task Repeat_prints_latency_percentiles()
    {
        var result = await Edged.EdgectlAsync("infer", "add", "--input", InputArgument("x"), "--repeat", "50");
        Assert.Equal(0, result.ExitCode);
        Assert.Matches(@"50 requests: round trip p50 \d+ µs, p99 \d+", result.Stdout);
    }

    [Fact]
    public async Task An_unknown_model_fails_with_the_daemons_message()
    {
        var result = await Edged.EdgectlAsync("infer", "nosuch", "--input", InputArgument("x"));
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("unknown_model: No model named 'nosuch' is loaded (loaded: add, mlp", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_wrong_input_name_is_named_in_the_error()
    {
        var result = await Edged.EdgectlAsync("infer", "add", "--input", InputArgument("input"));
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("invalid_input: Model 'add' has no input named 'input'. Its inputs are: x.", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_corrupt_model_is_refused_and_the_daemon_keeps_serving()
    {
        var load = await Edged.EdgectlAsync("load", "broken", Path.Combine(Edged.ModelDirectory, "corrupt.onnx"));
        Assert.Equal(1, load.ExitCode);
        Assert.Contains("model_load_failed: ONNX Runtime could not load", load.Stderr, StringComparison.Ordinal);

        var status = await Edged.EdgectlAsync("status");
        Assert.Equal(0, status.ExitCode);
        var models = await Edged.EdgectlAsync("models");
        Assert.DoesNotContain("broken", models.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Load_and_unload_round_trip()
    {
        var load = await Edged.EdgectlAsync("load", "second-add", "add.onnx");
        Assert.Equal(0, load.ExitCode);
        Assert.Contains("model      second-add", load.Stdout, StringComparison.Ordinal);
        var unload = await Edged.EdgectlAsync("unload", "second-add");
        Assert.Equal(0, unload.ExitCode);
        var again = await Edged.EdgectlAsync("unload", "second-add");
        Assert.Equal(1, again.ExitCode);
        Assert.Contains(ErrorCodes.UnknownModel, again.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stats_lists_every_model_with_percentiles()
    {
        var stats = await Edged.EdgectlAsync("stats", "--json");
        Assert.Equal(0, stats.ExitCode);
        Assert.Contains("\"name\":\"add\"", stats.Stdout, StringComparison.Ordinal);
        Assert.Contains("\"p99Us\"", stats.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Usage_errors_exit_2_and_say_what_is_wrong()
    {
        var result = await Edged.EdgectlAsync("infer", "add", "--bogus", "1");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("Unknown option --bogus", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task No_daemon_at_the_path_is_a_clear_error()
    {
        var result = await ProcessRunner.RunAsync(Paths.Edgectl, "--socket", "/tmp/no-such-dir/edged.sock", "status");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("Cannot connect to edged at /tmp/no-such-dir/edged.sock", result.Stderr, StringComparison.Ordinal);
    }
}
