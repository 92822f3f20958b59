using System.Text.Json.Nodes;
using EdgeRuntime.Inference.Providers;

namespace EdgeRuntime.Boards.Tests;

public sealed class BoardProfileTests
{
    [Theory]
    [InlineData("host", "linux-x64", "x86-64-v3", "cpu")]
    [InlineData("rpi4", "linux-arm64", "armv8-a,crc", "cpu")]
    [InlineData("rpi5", "linux-arm64", "armv8.2-a,dotprod,rcpc,aes,sha1,sha2", "cpu")]
    [InlineData("jetson-orin-nano", "linux-arm64", "armv8.2-a,dotprod,rcpc,aes,sha1,sha2", "tensorrt,cuda,cpu")]
    [InlineData("qcs6490", "linux-arm64", "armv8.2-a,dotprod,rcpc,aes,sha1,sha2", "qnn,cpu")]
    public void Every_board_profile_in_the_repository_loads_with_its_target_and_provider_order(string board, string rid, string? isa, string providers)
    {
        var profile = BoardProfileLoader.Load(Repository.BoardProfile(board));
        Assert.Equal(board, profile.Name);
        Assert.Equal(rid, profile.Rid);
        Assert.Equal(isa, profile.IlcInstructionSet);
        Assert.Equal(providers, string.Join(",", profile.ExecutionProviders.Select(p => p.Name)));
    }

    [Fact]
    public void The_pi4_profile_has_no_dot_product_and_the_pi5_profile_does()
    {
        var rpi4 = BoardProfileLoader.Load(Repository.BoardProfile("rpi4"));
        var rpi5 = BoardProfileLoader.Load(Repository.BoardProfile("rpi5"));
        Assert.DoesNotContain("asimddp", rpi4.Cpu.Features);
        Assert.DoesNotContain("dotprod", rpi4.IlcInstructionSet!.Split(','));
        Assert.Equal("cortex-a72", rpi4.Cpu.QemuCpu);
        Assert.Contains("asimddp", rpi5.Cpu.Features);
        Assert.Contains("dotprod", rpi5.IlcInstructionSet!.Split(','));
    }

    [Fact]
    public void The_qualcomm_profile_configures_qnn_htp_with_a_context_cache()
    {
        var qnn = BoardProfileLoader.Load(Repository.BoardProfile("qcs6490")).ExecutionProviders[0];
        Assert.Equal(ProviderKind.Qnn, qnn.Kind);
        Assert.Equal("libQnnHtp.so", qnn.BackendPath);
        Assert.Equal("burst", qnn.HtpPerformanceMode);
        Assert.Equal("/var/cache/edgeruntime/qnn", qnn.ContextCacheDirectory);
    }

    [Fact]
    public void The_built_in_host_profile_is_the_repository_host_profile()
    {
        var builtIn = BoardProfileLoader.BuiltInHost();
        var file = BoardProfileLoader.Load(Repository.BoardProfile("host"));
        Assert.Equal(file.Name, builtIn.Name);
        Assert.Equal(file.Rid, builtIn.Rid);
        Assert.Equal(file.Threads, builtIn.Threads);
        Assert.Equal(file.ExecutionProviders.Select(p => p.Name), builtIn.ExecutionProviders.Select(p => p.Name));
    }

    [Theory]
    [InlineData("rid", "\"linux-arm\"", "'rid'")]
    [InlineData("onMissingProvider", "\"ignore\"", "'onMissingProvider'")]
    [InlineData("threads.intraOp", "0", "'threads.intraOp'")]
    [InlineData("memory.budgetMiB", "-1", "'memory.budgetMiB'")]
    [InlineData("gpio.chip", "\"/dev/gpio9\"", "'gpio.chip'")]
    [InlineData("gpio.numbering", "\"bcm\"", "'gpio.numbering'")]
    [InlineData("socketPath", "\"run/edged.sock\"", "'socketPath'")]
    [InlineData("cpu.qemuCpu", "null", "'cpu.qemuCpu'")]
    [InlineData("service.watchdogSeconds", "7200", "'service.watchdogSeconds'")]
    [InlineData("service.environment", "[\"NOEQUALS\"]", "'service.environment[0]'")]
    [InlineData("service.supplementaryGroups", "[\"gpio;rm\"]", "'service.supplementaryGroups[0]'")]
    [InlineData("executionProviders", "[]", "'executionProviders'")]
    [InlineData("executionProviders", "[{\"name\":\"qnn\"}]", "'executionProviders'")]
    [InlineData("executionProviders", "[{\"name\":\"cpu\"},{\"name\":\"qnn\"}]", "'executionProviders[0].name'")]
    [InlineData("executionProviders", "[{\"name\":\"npu\"},{\"name\":\"cpu\"}]", "'executionProviders[0].name'")]
    [InlineData("executionProviders", "[{\"name\":\"qnn\",\"htpPerformanceMode\":\"turbo\"},{\"name\":\"cpu\"}]", "'executionProviders[0].htpPerformanceMode'")]
    [InlineData("executionProviders", "[{\"name\":\"qnn\",\"contextCacheDirectory\":\"cache\"},{\"name\":\"cpu\"}]", "'executionProviders[0].contextCacheDirectory'")]
    [InlineData("executionProviders", "[{\"name\":\"qnn\",\"deviceId\":0},{\"name\":\"cpu\"}]", "'executionProviders[0].deviceId'")]
    [InlineData("executionProviders", "[{\"name\":\"cuda\",\"deviceId\":-1},{\"name\":\"cpu\"}]", "'executionProviders[0].deviceId'")]
    [InlineData("executionProviders", "[{\"name\":\"cuda\"},{\"name\":\"cuda\"},{\"name\":\"cpu\"}]", "'executionProviders[1].name'")]
    [InlineData("threds", "{}", "threds")]
    [InlineData("threads.intraOp", "\"two\"", "$.threads.intraOp")]
    public void A_bad_profile_fails_with_an_error_naming_the_field(string field, string json, string named)
    {
        var profile = JsonNode.Parse(File.ReadAllText(Repository.BoardProfile("rpi5")), documentOptions: new() { CommentHandling = System.Text.Json.JsonCommentHandling.Skip })!.AsObject();
        string[] path = field.Split('.');
        var parent = path[..^1].Aggregate(profile, (node, key) => node[key]!.AsObject());
        parent[path[^1]] = JsonNode.Parse(json);

        var error = Assert.Throws<BoardProfileException>(() => BoardProfileLoader.Parse(System.Text.Encoding.UTF8.GetBytes(profile.ToJsonString()), "test.json"));
        Assert.Contains(named, error.Message, StringComparison.Ordinal);
        Assert.StartsWith("test.json: ", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"maxPath\":\"Vector1024\"}")]
    [InlineData("{\"maxPath\":\"2\"}")]
    [InlineData("{\"maxPath\":\"advsimd\"}")]
    public void A_kernel_path_the_kernels_do_not_have_is_refused(string kernels)
    {
        var error = Assert.Throws<BoardProfileException>(() => ParseRpi5With("kernels", kernels));
        Assert.Contains("'kernels.maxPath'", error.Message, StringComparison.Ordinal);
        Assert.Contains("AdvSimd", error.Message, StringComparison.Ordinal); // the message lists the names it takes
    }

    [Fact]
    public void Kernel_limits_parse_into_what_the_kernels_take_and_default_to_none()
    {
        var limits = ParseRpi5With("kernels", "{\"maxPath\":\"AdvSimd\",\"dotProduct\":false}").Kernels.ToLimits();
        Assert.Equal(new EdgeRuntime.Kernels.KernelLimits(EdgeRuntime.Kernels.KernelPath.AdvSimd, Vnni: true, DotProduct: false), limits);
        var noI8mm = ParseRpi5With("kernels", "{\"i8mm\":false}").Kernels.ToLimits();
        Assert.Equal(new EdgeRuntime.Kernels.KernelLimits(I8mm: false), noI8mm);
        Assert.Equal(new EdgeRuntime.Kernels.KernelLimits(), BoardProfileLoader.Load(Repository.BoardProfile("rpi5")).Kernels.ToLimits());
    }

    private static BoardProfile ParseRpi5With(string field, string json)
    {
        var profile = JsonNode.Parse(File.ReadAllText(Repository.BoardProfile("rpi5")), documentOptions: new() { CommentHandling = System.Text.Json.JsonCommentHandling.Skip })!.AsObject();
        profile[field] = JsonNode.Parse(json);
        return BoardProfileLoader.Parse(System.Text.Encoding.UTF8.GetBytes(profile.ToJsonString()), "test.json");
    }

    [Fact]
    public void A_missing_profile_file_is_named()
    {
        var error = Assert.Throws<BoardProfileException>(() => BoardProfileLoader.Load("/nonexistent/board.json"));
        Assert.Contains("/nonexistent/board.json", error.Message, StringComparison.Ordinal);
    }
}
