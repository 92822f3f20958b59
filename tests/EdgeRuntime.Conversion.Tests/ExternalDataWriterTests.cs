using EdgeRuntime.Inference;
using EdgeRuntime.Onnx;
using EdgeRuntime.Protocol;
using Microsoft.ML.OnnxRuntime;

namespace EdgeRuntime.Conversion.Tests;

/// <summary>ExternalDataWriter: large initializers move to a page-aligned data file that ONNX Runtime reads and maps.</summary>
public sealed class ExternalDataWriterTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("edgeruntime-external-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static byte[] Model(float[] w, float[] bias) => new OnnxModelBuilder()
        .Input("x", TensorDType.Float32, 1, 64)
        .Initializer("w", TensorDType.Float32, [64, w.Length / 64], w.AsSpan())
        .Initializer("bias", TensorDType.Float32, [bias.Length], bias.AsSpan())
        .Node("MatMul", ["x", "w"], ["xw"])
        .Node("Add", ["xw", "bias"], ["y"])
        .Output("y", TensorDType.Float32, 1, bias.Length)
        .Build();

    private static float[] Run(string path)
    {
        using var options = SessionFactory.CreateOptions(new InferenceOptions { IntraOpThreads = 1 });
        using var session = new InferenceSession(path, options);
        float[] x = [.. Enumerable.Range(0, 64).Select(i => MathF.Cos(i * 0.3f))];
        using var input = OrtValue.CreateTensorValueFromMemory(x, [1, 64]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, ["x"], [input], ["y"]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    [Fact]
    public void Large_initializers_move_to_page_aligned_offsets_and_the_model_gives_the_same_outputs()
    {
        float[] w = [.. Enumerable.Range(0, 64 * 40).Select(i => MathF.Sin(i * 0.01f))];
        float[] bias = [.. Enumerable.Range(0, 40).Select(i => i * 0.5f)];
        byte[] model = Model(w, bias);
        string inline = Path.Combine(_directory, "inline.onnx");
        File.WriteAllBytes(inline, model);
        string external = Path.Combine(_directory, "external.onnx");

        using (var data = File.Create(external + ".data"))
        {
            File.WriteAllBytes(external, ExternalDataWriter.Externalize(model, "external.onnx.data", data, threshold: 1024));
        }

        var tensors = ExternalInitializers.Read(File.ReadAllBytes(external));
        var moved = Assert.Single(tensors);
        Assert.Equal(("w", "external.onnx.data", 64L * 40 * 4), (moved.Name, moved.Location, moved.Length));
        Assert.Equal(0, moved.Offset % ExternalDataWriter.PageAlignment);
        Assert.True(new FileInfo(external).Length < 1024);
        Assert.Equal(Run(inline), Run(external));
    }

    [Fact]
    public void Every_large_tensor_starts_on_its_own_page()
    {
        // w is 5120 bytes: two pages, so bias starts on the third.
        float[] w = [.. Enumerable.Range(0, 64 * 20).Select(i => i * 0.001f)];
        float[] bias = [.. Enumerable.Range(0, 20).Select(i => (float)i)];
        using var data = new MemoryStream();

        var tensors = ExternalInitializers.Read(ExternalDataWriter.Externalize(Model(w, bias), "m.data", data, threshold: 1));

        Assert.Equal([0L, 2 * ExternalDataWriter.PageAlignment], tensors.Select(t => t.Offset));
        Assert.Equal((2 * ExternalDataWriter.PageAlignment) + (20 * 4), data.Length);
    }

    [Fact]
    public void A_location_with_a_folder_is_refused() =>
        Assert.Contains("file name beside the model", Assert.Throws<ArgumentException>(() => ExternalDataWriter.Externalize(Model(new float[64], [0f]), "../w.data", Stream.Null)).Message);
}
