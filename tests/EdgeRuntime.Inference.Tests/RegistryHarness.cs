using EdgeRuntime.TestModels;

namespace EdgeRuntime.Inference.Tests;

/// <summary>A model registry and scheduler over a temporary folder of sample models (and two broken files).</summary>
internal sealed class RegistryHarness : IDisposable
{
    public RegistryHarness(int workers = 2, int queueCapacity = 64)
    {
        ModelDirectory = Directory.CreateTempSubdirectory("edgeruntime-models-").FullName;
        SampleModelFolder.Write(ModelDirectory);

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
