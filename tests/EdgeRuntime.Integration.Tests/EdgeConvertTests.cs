using System.Text.Json;
using EdgeRuntime.Client;
using EdgeRuntime.Formats;

namespace EdgeRuntime.Integration.Tests;

/// <summary>The published edge-convert, as a user runs it: a float model in, a quantized one out that edged serves.</summary>
public sealed class EdgeConvertTests(SharedDaemon daemon) : IClassFixture<SharedDaemon>
{
    private EdgedProcess Edged => daemon.Edged;

    [Fact]
    public async Task A_converted_model_is_reported_per_layer_and_edged_serves_it_close_to_the_float_one()
    {
        string source = Path.Combine(Edged.ModelDirectory, "mlp.onnx");
        string converted = Path.Combine(Edged.ModelDirectory, "mlp-int4-it.onnx");
        var run = await ProcessRunner.RunAsync(Paths.EdgeConvert, source, converted, "--to", "int4", "--block", "32", "--json");
        Assert.True(run.ExitCode == 0, run.All);

        using var report = JsonDocument.Parse(run.Stdout);
        var layers = report.RootElement.GetProperty("layers").EnumerateArray().ToArray();
        Assert.Equal(2, layers.Length);
        Assert.All(layers, layer => Assert.True(layer.GetProperty("sqnrDb").GetDouble() > 15, layer.ToString()));
        Assert.True(report.RootElement.GetProperty("modelBytesAfter").GetInt64() < report.RootElement.GetProperty("modelBytesBefore").GetInt64());

        await using var client = await EdgeClient.ConnectAsync(Edged.SocketPath);
        await client.LoadAsync("mlp-int4-it", "mlp-int4-it.onnx");
        var x = Enumerable.Range(0, 64).Select(i => MathF.Sin(i * 0.37f)).ToArray();
        float[] exact = (await client.InferAsync("mlp", [Tensor.Float32("x", [1, 64], x)]))["y"].ToArray<float>();
        float[] quantized = (await client.InferAsync("mlp-int4-it", [Tensor.Float32("x", [1, 64], x)]))["y"].ToArray<float>();
        Assert.Equal(exact.Length, quantized.Length);
        double signal = exact.Sum(v => (double)v * v), noise = exact.Zip(quantized, (a, b) => (double)(a - b) * (a - b)).Sum();
        Assert.True(10 * Math.Log10(signal / noise) > 10, $"output SQNR {10 * Math.Log10(signal / noise):0.0} dB");
    }

    [Fact]
    public async Task An_int8_model_packed_into_external_data_is_served_with_the_same_integers()
    {
        const int k = 200, n = 72;
        var random = new Random(21);
        var b = new byte[k * n];
        random.NextBytes(b);
        var weights = (sbyte[])(Array)b;
        string source = Path.Combine(Edged.ModelDirectory, "int8-source.onnx");
        File.WriteAllBytes(source, TestModels.SampleModels.MatMulInteger(k, n, weights, 131));
        string packed = Path.Combine(Edged.ModelDirectory, "int8-packed-it.onnx");

        var run = await ProcessRunner.RunAsync(Paths.EdgeConvert, source, packed, "--to", "int8-packed", "--external-data");

        Assert.True(run.ExitCode == 0, run.All);
        Assert.Contains("exact", run.Stdout, StringComparison.Ordinal);
        // The weights left the model for the data file, on a page boundary.
        Assert.True(new FileInfo(packed).Length < 1024, $"{packed} is {new FileInfo(packed).Length} bytes");
        Assert.True(new FileInfo(packed + ".data").Length >= Kernels.Int8.PackedInt8Weights.PackedBytes(k, n));

        await using var client = await EdgeClient.ConnectAsync(Edged.SocketPath);
        var info = await client.LoadAsync("int8-packed-it", "int8-packed-it.onnx");
        Assert.Contains(info.Nodes, node => node.OpType == "MatMulInteger" && node.Provider == "CPUExecutionProvider");
        var a = new byte[3 * k];
        random.NextBytes(a);
        var result = await client.InferAsync("int8-packed-it", [Tensor.FromSpan("a", Protocol.TensorDType.UInt8, [3, k], (ReadOnlySpan<byte>)a)]);
        var reference = Kernels.Int8.Int8Reference.MatMulInteger(new Kernels.Int8.Int8Matrix(a, false), 3, k, new Kernels.Int8.Int8Matrix(b, true), n, [131], []);
        Assert.Equal(reference, result["y"].ToArray<int>());
    }

    [Fact]
    public async Task A_missing_input_is_an_error_naming_it_and_exit_code_1()
    {
        string missing = Path.Combine(Edged.ModelDirectory, "no-such-model.onnx");
        var run = await ProcessRunner.RunAsync(Paths.EdgeConvert, missing, Path.Combine(Edged.ModelDirectory, "out.onnx"), "--to", "bitlinear");
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("no-such-model.onnx", run.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_Paddle2ONNX_export_with_constant_weights_converts_and_edged_serves_it()
    {
        string converted = Path.Combine(Edged.ModelDirectory, "ocr-rec-int4-it.onnx");
        var run = await ProcessRunner.RunAsync(Paths.EdgeConvert, Paths.PaddleOcrRecognizer, converted, "--to", "int4", "--json");
        Assert.True(run.ExitCode == 0, run.All);
        using var report = JsonDocument.Parse(run.Stdout);
        Assert.Equal(9, report.RootElement.GetProperty("layers").GetArrayLength());
        Assert.Equal(4, report.RootElement.GetProperty("skipped").GetArrayLength());

        File.Copy(Paths.PaddleOcrRecognizer, Path.Combine(Edged.ModelDirectory, "ocr-rec-it.onnx"), overwrite: true);
        await using var client = await EdgeClient.ConnectAsync(Edged.SocketPath);
        await client.LoadAsync("ocr-rec-it", "ocr-rec-it.onnx");
        await client.LoadAsync("ocr-rec-int4-it", "ocr-rec-int4-it.onnx");
        var random = new Random(5);
        float[] image = [.. Enumerable.Range(0, 3 * 48 * 160).Select(_ => (float)((random.NextDouble() * 2) - 1))];
        var input = Tensor.Float32("x", [1, 3, 48, 160], image);
        float[] exact = (await client.InferAsync("ocr-rec-it", [input])).Outputs.Single().ToArray<float>();
        float[] quantized = (await client.InferAsync("ocr-rec-int4-it", [input])).Outputs.Single().ToArray<float>();
        Assert.Equal(exact.Length, quantized.Length);
        double signal = exact.Sum(v => (double)v * v), noise = exact.Zip(quantized, (a, b) => (double)(a - b) * (a - b)).Sum();
        Assert.True(10 * Math.Log10(signal / noise) > 15, $"output SQNR {10 * Math.Log10(signal / noise):0.0} dB");
    }

    [Fact]
    public async Task A_model_with_external_data_converts_to_one_with_external_data()
    {
        string folder = Path.Combine(Edged.Directory, "external-in");
        Directory.CreateDirectory(folder);
        var w = Enumerable.Range(0, 64 * 32).Select(i => MathF.Sin(i * 1.7f) * 0.2f).ToArray();
        byte[] inline = new Onnx.OnnxModelBuilder()
            .Input("x", Protocol.TensorDType.Float32, "N", 64)
            .Initializer("w", Protocol.TensorDType.Float32, [64, 32], w.AsSpan())
            .Node("MatMul", ["x", "w"], ["y"])
            .Output("y", Protocol.TensorDType.Float32, "N", 32)
            .Build();
        string source = Path.Combine(folder, "linear.onnx");
        using (var data = File.Create(source + ".data"))
        {
            File.WriteAllBytes(source, Onnx.ExternalDataWriter.Externalize(inline, "linear.onnx.data", data));
        }

        string converted = Path.Combine(Edged.ModelDirectory, "linear-int4-it.onnx");
        var run = await ProcessRunner.RunAsync(Paths.EdgeConvert, source, converted, "--to", "int4");
        Assert.True(run.ExitCode == 0, run.All);
        Assert.True(File.Exists(converted + ".data"), run.All);

        await using var client = await EdgeClient.ConnectAsync(Edged.SocketPath);
        await client.LoadAsync("linear-int4-it", "linear-int4-it.onnx");
        var y = (await client.InferAsync("linear-int4-it", [Tensor.Float32("x", [1, 64], new float[64])]))["y"].ToArray<float>();
        Assert.Equal(new float[32], y);
    }

    [Fact]
    public async Task A_conversion_ONNX_Runtime_refuses_exits_4_and_writes_nothing()
    {
        // The linear layer converts, but another node reads a tensor nothing produces: ORT refuses the result.
        var w = new float[64 * 8];
        string source = Path.Combine(Edged.Directory, "broken.onnx");
        File.WriteAllBytes(source, new Onnx.OnnxModelBuilder()
            .Input("x", Protocol.TensorDType.Float32, "N", 64)
            .Initializer("w", Protocol.TensorDType.Float32, [64, 8], w.AsSpan())
            .Node("MatMul", ["x", "w"], ["h"])
            .Node("Add", ["h", "nowhere"], ["y"])
            .Output("y", Protocol.TensorDType.Float32, "N", 8)
            .Build());
        string converted = Path.Combine(Edged.Directory, "broken-int4.onnx");
        var run = await ProcessRunner.RunAsync(Paths.EdgeConvert, source, converted, "--to", "int4");
        Assert.Equal(4, run.ExitCode);
        Assert.Contains("ONNX Runtime refuses the converted model, so nothing was written", run.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(converted));
    }

    [Fact]
    public async Task A_Paddle2ONNX_vision_model_is_quantized_to_int8_qdq_on_calibration_samples_and_edged_serves_it()
    {
        string samples = Path.Combine(Edged.Directory, "cls-calibration");
        Directory.CreateDirectory(samples);
        var random = new Random(9);
        for (int i = 0; i < 5; i++)
        {
            float[] image = [.. Enumerable.Range(0, 3 * 48 * 192).Select(_ => (float)((random.NextDouble() * 2) - 1))];
            NpyFile.Write(Path.Combine(samples, $"{i}.npy"), Tensor.Float32("x", [1, 3, 48, 192], image));
        }

        string converted = Path.Combine(Edged.ModelDirectory, "ocr-cls-int8-it.onnx");
        var run = await ProcessRunner.RunAsync(Paths.EdgeConvert, Paths.PaddleOcrClassifier, converted, "--to", "int8", "--calibration", samples, "--json");
        Assert.True(run.ExitCode == 0, run.All);
        using var report = JsonDocument.Parse(run.Stdout);
        Assert.Equal(54, report.RootElement.GetProperty("layers").GetArrayLength());
        var qdq = report.RootElement.GetProperty("qdq");
        Assert.Equal(35, qdq.GetProperty("foldedBatchNorms").GetInt32());
        Assert.Equal((4, 1), (qdq.GetProperty("accuracy").GetProperty("calibrationSamples").GetInt32(), qdq.GetProperty("accuracy").GetProperty("heldBackSamples").GetInt32()));
        Assert.True(report.RootElement.GetProperty("modelBytesAfter").GetInt64() < report.RootElement.GetProperty("modelBytesBefore").GetInt64() * 0.6);

        await using var client = await EdgeClient.ConnectAsync(Edged.SocketPath);
        var info = await client.LoadAsync("ocr-cls-int8-it", "ocr-cls-int8-it.onnx");
        float[] input = [.. Enumerable.Range(0, 3 * 48 * 192).Select(i => MathF.Sin(i * 0.01f))];
        var y = (await client.InferAsync("ocr-cls-int8-it", [Tensor.Float32("x", [1, 3, 48, 192], input)])).Outputs.Single().ToArray<float>();
        // Two class probabilities from the softmax.
        Assert.Equal(2, y.Length);
        Assert.Equal(1, y.Sum(), 3);
    }
}
