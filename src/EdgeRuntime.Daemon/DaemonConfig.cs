namespace EdgeRuntime.Daemon;

// The daemon's configuration file (JSON, camelCase). docs/configuration.md documents every field; keep them in step.
// Setters, not init: the source-generated reader assigns every init-only property, so a field absent from the file
// would become null instead of keeping its default.

public sealed record DaemonConfig
{
    /// <summary>Null: the default rule (see DefaultSocketPath).</summary>
    public string? SocketPath { get; set; }

    /// <summary>Where relative model paths are looked up. Relative to the configuration file's folder.</summary>
    public string ModelDirectory { get; set; } = "models";

    /// <summary>Folders besides the model directory that absolute model, manifest and folder paths may lie under.</summary>
    public string[] AllowedModelRoots { get; set; } = [];

    /// <summary>
    /// Folders (besides the working directory, the model directory and its roots) under which a client may name
    /// pipeline replay inputs by absolute path. Relative to the configuration file's folder.
    /// </summary>
    public string[] AllowedInputRoots { get; set; } = [];

    /// <summary>
    /// The board profile (boards/&lt;board&gt;/board.json), relative to this file's folder. Null: board.json beside
    /// edged, else the built-in host profile.
    /// </summary>
    public string? BoardProfile { get; set; }

    /// <summary>Models loaded at start, before the socket accepts.</summary>
    public PreloadModel[] Models { get; set; } = [];

    public ThreadsConfig Threads { get; set; } = new();

    public LimitsConfig Limits { get; set; } = new();

    public uint[] AllowedUids { get; set; } = [];

    public uint[] AllowedGids { get; set; } = [];

    /// <summary>Groups by name, added to AllowedGids at start (the packaged service allows "edgeruntime").</summary>
    public string[] AllowedGroups { get; set; } = [];

    /// <summary>The durable result store. Required when there are triggers; null: none.</summary>
    public StoreConfig? Store { get; set; }

    /// <summary>Sensors started with the daemon and kept running (docs/configuration.md#sensors-and-triggers).</summary>
    public EdgeRuntime.Sensors.SensorConfig[] Sensors { get; set; } = [];

    /// <summary>Rules that run a model on a sensor window and store the result.</summary>
    public EdgeRuntime.Triggers.TriggerConfig[] Triggers { get; set; } = [];

    /// <summary>Pipelines loaded at start (MMEdge multi-sensor, CBNet cascades); more can be loaded over the socket.</summary>
    public EdgeRuntime.Protocol.PipelineDefinition[] Pipelines { get; set; } = [];

    /// <summary>How language models are served (docs/configuration.md#language-models).</summary>
    public GenerationConfig Generation { get; set; } = new();

    /// <summary>The OpenAI-compatible HTTP endpoint (docs/http.md); null: off.</summary>
    public HttpConfig? Http { get; set; }

    /// <summary>Shared-memory tensors (region-register); off unless enabled. docs/configuration.md#shared-memory.</summary>
    public SharedMemoryConfig SharedMemory { get; set; } = new();
}

/// <summary>Shared-memory tensors: whether clients may register regions, and how large and how many.</summary>
public sealed record SharedMemoryConfig
{
    public bool Enabled { get; set; }

    /// <summary>The largest region one registration may map, in MiB (below 2048).</summary>
    public double MaxRegionMiB { get; set; } = 256;

    public int MaxRegionsPerConnection { get; set; } = 16;
}

/// <summary>The OpenAI-compatible endpoint: a second UNIX socket, with the main socket's access rules and limits.</summary>
public sealed record HttpConfig
{
    /// <summary>Where it listens (e.g. /run/edgeruntime/openai.sock); null: off.</summary>
    public string? SocketPath { get; set; }
}

/// <summary>Serving language models: sessions and their caches, batching, queueing, eviction.</summary>
public sealed record GenerationConfig
{
    /// <summary>Positions each session's cache holds; 0: the model's context length.</summary>
    public int ContextLimit { get; set; }

    /// <summary>Sessions (running or kept between turns) whose caches each model holds.</summary>
    public int Sessions { get; set; } = 4;

    /// <summary>Sessions decoded together in one pass over the weights.</summary>
    public int MaxBatch { get; set; } = 4;

    /// <summary>Generate requests waiting per model before more are refused with busy.</summary>
    public int QueueCapacity { get; set; } = 16;

    /// <summary>Prompt tokens per prefill step.</summary>
    public int PrefillChunk { get; set; } = 128;

    /// <summary>A kept session idle this long is evicted.</summary>
    public double IdleTimeoutMinutes { get; set; } = 10;

    /// <summary>maxTokens for a request that names none.</summary>
    public int DefaultMaxTokens { get; set; } = 256;

    /// <summary>Threads a generation step uses; null: every processor.</summary>
    public int? Threads { get; set; }

    /// <summary>Hash the weights file at load against config.json.</summary>
    public bool VerifyWeights { get; set; } = true;
}

/// <summary>The result journal: where, and how much it keeps (whole segments are removed oldest first).</summary>
public sealed record StoreConfig
{
    /// <summary>A folder, relative to the configuration file's folder.</summary>
    public string Path { get; set; } = "results";

    public double MaxMiB { get; set; } = 64;

    public double MaxAgeHours { get; set; } = 24 * 7;

    public double SegmentKiB { get; set; } = 4096;
}

/// <summary>A model loaded at start. Providers and onMissingProvider override the board profile for this model.</summary>
public sealed record PreloadModel(string Name, string Path, string[]? Providers = null, string? OnMissingProvider = null, string? KernelFallback = null)
{
    /// <summary>Run up to this many waiting requests as one batch (docs/protocol.md, "Batching"); null: never.</summary>
    public int? MaxBatch { get; init; }

    /// <summary>Each port's batch axis; null: every input and output along its first dimension.</summary>
    public Dictionary<string, int>? BatchAxes { get; init; }
}

/// <summary>Null thread counts take the board profile's.</summary>
public sealed record ThreadsConfig
{
    public int? IntraOp { get; set; }

    public int? InterOp { get; set; }

    /// <summary>Inference worker threads; 0 means one per processor.</summary>
    public int? Workers { get; set; }

    /// <summary>Microseconds a connection polls for the next request before its thread sleeps; 0 sleeps at once.</summary>
    public int ReceiveSpinMicroseconds { get; set; } = 200;
}

public sealed record LimitsConfig
{
    public long MaxFrameBytes { get; set; } = 64L * 1024 * 1024;

    public int MaxInFlightPerConnection { get; set; } = 64;

    public int MaxConnections { get; set; } = 64;

    /// <summary>Connections one peer uid may hold; 0 = three quarters of maxConnections, leaving the rest to other users.</summary>
    public int MaxConnectionsPerUid { get; set; }

    /// <summary>Once a frame has begun, the rest of it must arrive within this long, or the connection is closed.</summary>
    public double FrameTimeoutSeconds { get; set; } = 10;

    /// <summary>A connection with nothing in flight and no bytes for this long is closed; 0 = never.</summary>
    public double IdleTimeoutSeconds { get; set; }

    public int QueueCapacity { get; set; } = 256;

    /// <summary>Request payload bytes held at once across all connections; at least maxFrameBytes.</summary>
    public long MaxPendingBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>A response send blocked this long (the client stopped reading) closes that connection.</summary>
    public double SendTimeoutSeconds { get; set; } = 30;

    public double ShutdownTimeoutSeconds { get; set; } = 10;

    /// <summary>
    /// After work, once the daemon has been quiet this long, its memory is returned to the system (a full collection
    /// and malloc_trim), and once more a minute later; 0 = never.
    /// </summary>
    public double TrimMemoryWhenIdleSeconds { get; set; } = 5;
}
