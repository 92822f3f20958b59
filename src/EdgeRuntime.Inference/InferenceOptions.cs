using EdgeRuntime.Inference.Providers;

namespace EdgeRuntime.Inference;

/// <summary>How sessions are built and how many requests run at once.</summary>
public sealed record InferenceOptions
{
    /// <summary>Threads ONNX Runtime uses inside one Run. 1 keeps latency predictable when several requests run at once.</summary>
    public int IntraOpThreads { get; init; } = 1;

    public int InterOpThreads { get; init; } = 1;

    /// <summary>Requests executed at once (worker slots of the <see cref="InferenceScheduler"/>). 0 means one per processor.</summary>
    public int Workers { get; init; }

    /// <summary>
    /// Folders besides the model directory under which absolute model paths may lie (see <see cref="Paths.ModelPaths"/>).
    /// </summary>
    public string[] AllowedModelRoots { get; init; } = [];

    /// <summary>Requests holding a place in the queue, waiting for a worker; more are held back until one starts.</summary>
    public int QueueCapacity { get; init; } = 256;

    /// <summary>The board's execution providers in order and its onMissingProvider rule; models may override both.</summary>
    public ProviderChoice Providers { get; init; } = ProviderChoice.CpuOnly;

    /// <summary>Resident memory the daemon may reach by loading models, in bytes; 0 means no limit.</summary>
    public long MemoryBudgetBytes { get; init; }

    /// <summary>Profile one warm-up run at load to learn which provider runs each node (see PlacementProbe).</summary>
    public bool ProbePlacement { get; init; } = true;

    public int EffectiveWorkers => Workers > 0 ? Workers : Environment.ProcessorCount;
}
