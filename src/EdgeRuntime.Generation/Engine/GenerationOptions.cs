namespace EdgeRuntime.Generation.Engine;

/// <summary>How the daemon serves one language model (configuration: "generation"; docs/language-models.md).</summary>
public sealed record GenerationOptions
{
    /// <summary>Positions a session's cache holds; 0 takes the model's context length.</summary>
    public int ContextLimit { get; init; }

    /// <summary>Sessions whose caches are held at once: running ones and ones kept between turns.</summary>
    public int Sessions { get; init; } = 4;

    /// <summary>Sessions decoded together in one pass over the weights; more running requests wait in the queue.</summary>
    public int MaxBatch { get; init; } = 4;

    /// <summary>Requests waiting for a running place; beyond it a generate is refused with "busy".</summary>
    public int QueueCapacity { get; init; } = 16;

    /// <summary>Prompt tokens per prefill step; decode steps of other sessions run between chunks.</summary>
    public int PrefillChunk { get; init; } = 128;

    /// <summary>A kept session unused this long is evicted (its cache slot freed).</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>maxTokens when a request names none (still bounded by the context left).</summary>
    public int DefaultMaxTokens { get; init; } = 256;

    /// <summary>Threads ONNX Runtime splits one step over.</summary>
    public int IntraOpThreads { get; init; } = Math.Max(1, Environment.ProcessorCount);

    /// <summary>Hash the weights at load against config.json.</summary>
    public bool VerifyWeights { get; init; } = true;

    /// <summary>Resident memory the daemon may reach (weights + caches); 0 means no limit.</summary>
    public long MemoryBudgetBytes { get; init; }
}
