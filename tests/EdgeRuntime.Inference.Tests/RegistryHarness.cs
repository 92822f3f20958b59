using EdgeRuntime.TestModels;

namespace EdgeRuntime.Inference.Tests;

/// <summary>A model registry and scheduler over a temporary folder of sample models (and two broken files).</summary>
internal sealed class RegistryHarness : IDisposable
{
    public RegistryHarness(int workers = 2, int queueCapacity = 64)
    {
        ModelDirectory = Directory.CreateTempSubdirectory("edgeruntime-models-").FullName;
        File.WriteAllBytes(Path.Combine(ModelDirectory, "add.onnx"), SampleModels.AddBias());
        File.WriteAllBytes(Path.Combine(ModelDirectory, "mlp.onnx"), SampleModels.Mlp(64, 32, 8));
        File.WriteAllBytes(Path.Combine(ModelDirectory, "double.onnx"), SampleModels.DoubleInt64());
        File.WriteAllBytes(Path.Combine(ModelDirectory, "corrupt.onnx"), [0x08, 0x07, 0xFF, 0xFF, 0x12, 0x99, 0x01, 0x02, 0x03]);
        File.WriteAllText(Path.Combine(ModelDirectory, "text.onnx"), "this is not a model");

        var options = new InferenceOptions { Workers = workers, QueueCapacity = queueCapacity };
        Registry = new ModelRegistry(ModelDirectory, options);
        Queue = new InferenceScheduler(options);
    }

    public string ModelDirectory { get; }

    public ModelRegistry Registry { get; }

    public InferenceScheduler Queue { get; }

    public void Dispose()
    {
        Queue.Dispose();
        Registry.Dispose();
        Directory.Delete(ModelDirectory, recursive: true);
    }
}
