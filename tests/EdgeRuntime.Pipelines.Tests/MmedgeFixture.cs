using System.Globalization;
using EdgeRuntime.Inference;
using EdgeRuntime.Inference.Providers;
using EdgeRuntime.Pipelines.Mmedge;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Pipelines.Tests;

/// <summary>The committed MMEdge models loaded (and profiled) once, with the committed replay episodes.</summary>
public sealed class MmedgeFixture : IAsyncLifetime
{
    public static string ManifestPath => Path.Combine(Repository.Models, "mmedge", "mmedge.json");

    public static string Episodes => Path.Combine(Repository.Samples, "mmedge", "test");

    /// <summary>The configuration the training script's expected.csv was computed for.</summary>
    public static PipelineConfiguration Reference { get; } =
        new([new ModalityChoice("audio", "large", 100, 1), new ModalityChoice("vision", "large", 62.5, 1)]);

    public ModelRegistry Registry { get; private set; } = null!;

    public ModelInvoker Invoker { get; private set; } = null!;

    public MmedgePipeline Pipeline { get; private set; } = null!;

    public int[] Labels { get; } = [.. File.ReadAllLines(Path.Combine(Episodes, "labels.csv")).Skip(1).Select(l => int.Parse(l.Split(',')[1], CultureInfo.InvariantCulture))];

    private InferenceScheduler _scheduler = null!;

    public async Task InitializeAsync()
    {
        var options = new InferenceOptions { IntraOpThreads = 1, Workers = 2, ProbePlacement = false };
        Registry = new ModelRegistry(Path.Combine(Repository.Models, "mmedge"), options);
        _scheduler = new InferenceScheduler(options);
        Invoker = new ModelInvoker(Registry, _scheduler);
        Pipeline = await MmedgePipeline.LoadAsync(new PipelineDefinition("digits", "mmedge", "mmedge/mmedge.json"), ManifestPath, Invoker, [ProviderNames.Cpu], CancellationToken.None);
    }

    public Task DisposeAsync()
    {
        _scheduler.Dispose();
        Registry.Dispose();
        return Task.CompletedTask;
    }

    public static MmedgeRunOptions Episode(int episode, IPipelineClock clock, bool skip = false, bool sequential = false) =>
        new(Path.Combine(Episodes, $"{episode:0000}.wav"), Path.Combine(Episodes, $"{episode:0000}.npy"), clock)
        {
            Skip = skip,
            Sequential = sequential,
            Configuration = Reference,
        };

    public Task<PipelineResult> RunAsync(int episode, bool skip = false, bool sequential = false, IPipelineClock? clock = null) =>
        Pipeline.RunAsync(Episode(episode, clock ?? new FastClock(), skip, sequential), CancellationToken.None);

    /// <summary>Successful runs the registry has counted for one of the pipeline's models ("audio_enc_large", ...).</summary>
    public long Runs(string file)
    {
        Assert.True(Registry.TryGet("digits:" + file, out var model));
        return model.Latency.Snapshot().Count;
    }
}
