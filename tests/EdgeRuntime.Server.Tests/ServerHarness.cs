using EdgeRuntime.Inference;
using EdgeRuntime.Onnx;
using EdgeRuntime.TestModels;

namespace EdgeRuntime.Server.Tests;

/// <summary>A model directory with the sample models, a registry, a queue and a request handler, as edged wires them.</summary>
internal sealed class ServerHarness : IDisposable
{
    public ServerHarness(int workers = 2, int queueCapacity = 64, ServerOptions? options = null)
    {
        ModelDirectory = Directory.CreateTempSubdirectory("edgeruntime-models-").FullName;
        File.WriteAllBytes(Path.Combine(ModelDirectory, "add.onnx"), SampleModels.AddBias());
        File.WriteAllBytes(Path.Combine(ModelDirectory, "mlp.onnx"), SampleModels.Mlp(64, 32, 8));
        File.WriteAllBytes(Path.Combine(ModelDirectory, "double.onnx"), SampleModels.DoubleInt64());
        File.WriteAllBytes(Path.Combine(ModelDirectory, "corrupt.onnx"), [0x08, 0x07, 0xFF, 0xFF, 0x12, 0x99, 0x01, 0x02, 0x03]);
        File.WriteAllText(Path.Combine(ModelDirectory, "text.onnx"), "this is not a model");

        var inferenceOptions = new InferenceOptions { Workers = workers, QueueCapacity = queueCapacity };
        Registry = new ModelRegistry(ModelDirectory, inferenceOptions);
        Queue = new InferenceScheduler(inferenceOptions);
        Options = options ?? new ServerOptions { SocketPath = Path.Combine(ModelDirectory, "edged.sock") };
        Handler = new RequestHandler(Registry, Queue, Options, Metrics, ["CPUExecutionProvider"]);
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
