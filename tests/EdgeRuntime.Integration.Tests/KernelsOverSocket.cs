using EdgeRuntime.Client;
using EdgeRuntime.Kernels;
using EdgeRuntime.Kernels.Int8;
using EdgeRuntime.Kernels.LowBit;
using EdgeRuntime.Kernels.Ternary;
using EdgeRuntime.Protocol;
using EdgeRuntime.Onnx;
using EdgeRuntime.Formats;
using EdgeRuntime.TestModels;

namespace EdgeRuntime.Integration.Tests;

/// <summary>Models using our ai.edgeruntime ops, loaded and run through the socket like any other model.</summary>
public sealed class KernelsOverSocket
{
    internal static async Task CheckBitLinearAsync(EdgedProcess edged, string name)
    {
        var layer = SampleModels.BitLinear(n: 96, k: 640, seed: 3);
        File.WriteAllBytes(Path.Combine(edged.ModelDirectory, name + ".onnx"), layer.Model);
        await using var client = await EdgeClient.ConnectAsync(edged.SocketPath);
        var info = await client.LoadAsync(name, name + ".onnx");
        Assert.Contains(info.Nodes, n => n.OpType == "BitLinear" && n.Provider == "CPUExecutionProvider");

        var random = new Random(17);
        foreach (int m in new[] { 1, 3, 5 })
        {
            float[] x = [.. Enumerable.Range(0, m * layer.K).Select(_ => (float)((random.NextDouble() * 2) - 1))];
            var result = await client.InferAsync(name, [Tensor.Float32("x", [m, layer.K], x)]);
            Assert.Equal(BitLinearReference.Compute(x, m, layer.K, layer.Weights, layer.N, layer.Beta), result["y"].ToArray<float>());
        }
    }

    /// <summary>
    /// ORT-domain models (com.microsoft.MatMulNBits, standard QLinearMatMul) loaded with kernelFallback force: the load
    /// reports the rewrite, and the daemon's answers equal our kernels computed here (int8 mode and QLinearMatMul are
    /// exact on every path, so this holds across architectures too).
    /// </summary>
    internal static async Task CheckFallbackRewriteAsync(EdgedProcess edged, string name)
    {
        var shape = new NBitsShape(N: 72, K: 320, Bits: 4, BlockSize: 64);
        var random = new Random(21);
        var weights = NBitsWeights.Quantize([.. Enumerable.Range(0, shape.N * shape.K).Select(_ => (float)(random.NextDouble() - 0.5))], shape, zeroPoints: true);
        File.WriteAllBytes(Path.Combine(edged.ModelDirectory, name + "-nbits.onnx"), SampleModels.MatMulNBits(weights, accuracyLevel: 4));
        // N = 300 is 19 tiles of 16 columns: two of the op's column tasks (16 tiles each), so a kernel call starts past
        // tile 0; three rows of A make a batch with an odd token.
        var b = new sbyte[96 * 300];
        random.NextBytes((byte[])(Array)b);
        File.WriteAllBytes(Path.Combine(edged.ModelDirectory, name + "-qlinear.onnx"), SampleModels.QLinearMatMul(96, 300, b, 0.02f, 128, [0.004f], [0], 0.05f, 100));

        await using var client = await EdgeClient.ConnectAsync(edged.SocketPath);
        var nbits = await client.LoadAsync(new LoadRequest(name + "-nbits", name + "-nbits.onnx") { KernelFallback = "force" });
        var rewrite = Assert.Single(nbits.Rewrites);
        Assert.Equal(("MatMulNBits", "com.microsoft", "kernelFallback is force"), (rewrite.OpType, rewrite.FromDomain, rewrite.Reason));
        float[] x = [.. Enumerable.Range(0, 2 * shape.K).Select(_ => (float)((random.NextDouble() * 2) - 1))];
        var expected = new float[2 * shape.N];
        NBitsMatMul.Compute(KernelPath.Scalar, shape, NBitsAccuracy.Int8, x, 2, weights.B, weights.Scales, weights.ZeroPoints, default, expected);
        var result = await client.InferAsync(name + "-nbits", [Tensor.Float32("x", [2, shape.K], x)]);
        Assert.Equal(expected, result["y"].ToArray<float>());

        var qlinear = await client.LoadAsync(new LoadRequest(name + "-qlinear", name + "-qlinear.onnx") { KernelFallback = "force" });
        Assert.Equal("QLinearMatMul", Assert.Single(qlinear.Rewrites).OpType);
        var a = new byte[3 * 96];
        random.NextBytes(a);
        var reference = Int8Reference.QLinearMatMul(new Int8Matrix(a, false), 3, 96, 0.02f, 128, new Int8Matrix((byte[])(Array)b, true), 300, [0.004f], [0], 0.05f, 100, ySigned: false);
        var quantized = await client.InferAsync(name + "-qlinear", [Tensor.FromSpan<byte>("a", TensorDType.UInt8, [3, 96], a)]);
        Assert.Equal(reference, quantized["y"].ToArray<byte>());
    }

    [Fact]
    public async Task Ort_domain_models_are_rewritten_onto_our_kernels_and_report_it()
    {
        await using var edged = await EdgedProcess.StartAsync();
        await CheckFallbackRewriteAsync(edged, "fallback");

        // On the CPU provider nothing is missing, so auto leaves the model alone.
        await using var client = await EdgeClient.ConnectAsync(edged.SocketPath);
        var info = await client.LoadAsync("fallback-auto", "fallback-nbits.onnx");
        Assert.Empty(info.Rewrites);
    }

    [Fact]
    public async Task The_published_edged_checks_every_kernel_path_of_this_cpu()
    {
        // Native AOT with the host profile's instruction set: the paths the shipped binary can take.
        var run = await ProcessRunner.RunAsync(Paths.Edged, "--check-kernels");
        Assert.True(run.ExitCode == 0, run.All);
        Assert.Contains("Vector256    MatMulInteger prepacked", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("Vector256    Int8RowLinear", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("all kernels agree with their references", run.Stdout, StringComparison.Ordinal);

        // The forms in use: the x86-64-v3 binary still finds AVX-VNNI at run time where this CPU has it.
        string extension = System.Runtime.Intrinsics.X86.AvxVnni.IsSupported ? "AvxVnni" : "Avx2";
        Assert.Contains($"  {"MatMulNBits int8",-26} Vector256 8 rows+{extension}", run.Stdout, StringComparison.Ordinal);
        // Where the CPU has AVX-512 VNNI, the same binary takes the native 512-bit kernels (libedgekernels, linked in).
        bool native = EdgeRuntime.Kernels.KernelPaths.Avx512Vnni;
        Assert.Contains($"  {"MatMulInteger prepacked",-26} {(native ? "native Avx512Vnni" : $"Vector256+{extension}")}", run.Stdout, StringComparison.Ordinal);
        Assert.Contains(native ? "libedgekernels: AVX-512 VNNI in use" : "libedgekernels: AVX-512 VNNI not on this CPU", run.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_board_profile_narrows_the_kernels_and_they_still_equal_the_reference()
    {
        // The host profile with a ceiling of Vector128 and VNNI off: hello names the narrowed forms, and the rewritten
        // MatMulNBits, QLinearMatMul and BitLinear models still give the reference's answers on them.
        string directory = WithHostKernelLimits("""{ "maxPath": "Vector128", "vnni": false }""");
        await using var edged = await EdgedProcess.StartInAsync(directory);
        await using (var client = await EdgeClient.ConnectAsync(edged.SocketPath))
        {
            var hello = await client.HelloAsync("kernel-limits-test");
            Assert.Contains("MatMulNBits int8=Vector128,", hello.Platform, StringComparison.Ordinal);
            Assert.DoesNotContain("+AvxVnni", hello.Platform, StringComparison.Ordinal);
            Assert.DoesNotContain("native Avx512Vnni", hello.Platform, StringComparison.Ordinal);
        }

        await CheckFallbackRewriteAsync(edged, "fallback-narrowed");
        await CheckBitLinearAsync(edged, "bitlinear-narrowed");
    }

    [Fact]
    public async Task A_board_profile_cannot_ask_for_another_architectures_kernels()
    {
        string directory = WithHostKernelLimits("""{ "maxPath": "AdvSimd" }""");
        var run = await ProcessRunner.RunAsync(Paths.Edged, "--config", Path.Combine(directory, "edged.json"), "--socket", Path.Combine(directory, "edged.sock"));
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("kernels.maxPath is AdvSimd, a path for arm64", run.Stderr, StringComparison.Ordinal);
    }

    // A daemon folder whose board profile is the host's with the given "kernels" limits.
    private static string WithHostKernelLimits(string kernels)
    {
        string directory = EdgedProcess.Prepare(extraConfig: "\"boardProfile\": \"board.json\"");
        var profile = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Repository.BoardProfile("host")), documentOptions: new() { CommentHandling = System.Text.Json.JsonCommentHandling.Skip })!.AsObject();
        profile["kernels"] = System.Text.Json.Nodes.JsonNode.Parse(kernels);
        File.WriteAllText(Path.Combine(directory, "board.json"), profile.ToJsonString());
        return directory;
    }

    [Fact]
    public async Task BitLinear_loads_and_runs_through_the_published_edged()
    {
        await using var edged = await EdgedProcess.StartAsync();
        await CheckBitLinearAsync(edged, "bitlinear");
    }
}
