using EdgeRuntime.Inference;
using EdgeRuntime.Onnx;
using EdgeRuntime.TestModels;

namespace EdgeRuntime.Server.Tests;

/// <summary>A model directory with the sample models, a registry, a queue and a request handler, as edged wires them.</summary>
internal sealed class ServerHarness : IDisposable
{
    public ServerHarness(int workers = 2, int queueCapacity = 64, ServerOptions? options = null, IGenerationServices? generation = null)
    {
        ModelDirectory = Directory.CreateTempSubdirectory("edgeruntime-models-").FullName;
        SampleModelFolder.Write(ModelDirectory);

        var inferenceOptions = new InferenceOptions { Workers = workers, QueueCapacity = queueCapacity };
        Registry = new ModelRegistry(ModelDirectory, inferenceOptions);
        Queue = new InferenceScheduler(inferenceOptions);
        Options = options ?? new ServerOptions { SocketPath = Path.Combine(ModelDirectory, "edged.sock") };
        Handler = new RequestHandler(Registry, Queue, Options, Metrics, ["CPUExecutionProvider"], generation: generation);
    }

    public string ModelDirectory { get; }

    public ModelRegistry Registry { get; }

    public InferenceScheduler Queue { get; }

    public ServerOptions Options { get; }

    public ServerMetrics Metrics { get; } = new();

    public RequestHandler Handler { get; }

    public void Dispose()
    {
        Queue.Dispose();
        Registry.Dispose();
        Directory.Delete(ModelDirectory, recursive: true);
    }
}
