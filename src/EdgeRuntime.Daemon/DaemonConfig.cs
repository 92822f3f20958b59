namespace EdgeRuntime.Daemon;

// The daemon's configuration file (JSON, camelCase). docs/configuration.md documents every field; keep them in step.

public sealed record DaemonConfig
{
    /// <summary>Null: the default rule (see DefaultSocketPath).</summary>
    public string? SocketPath { get; init; }

    /// <summary>Where relative model paths are looked up. Relative to the configuration file's folder.</summary>
    public string ModelDirectory { get; init; } = "models";

    public string Board { get; init; } = "host";

    /// <summary>Models loaded at start, before the socket accepts.</summary>
    public PreloadModel[] Models { get; init; } = [];

    public ThreadsConfig Threads { get; init; } = new();

    public LimitsConfig Limits { get; init; } = new();

    public uint[] AllowedUids { get; init; } = [];

    public uint[] AllowedGids { get; init; } = [];
}

public sealed record PreloadModel(string Name, string Path);

public sealed record ThreadsConfig
{
    public int IntraOp { get; init; } = 1;

    public int InterOp { get; init; } = 1;

    /// <summary>Inference worker threads; 0 means one per processor.</summary>
    public int Workers { get; init; }
}

public sealed record LimitsConfig
{
    public long MaxFrameBytes { get; init; } = 64L * 1024 * 1024;

    public int MaxInFlightPerConnection { get; init; } = 64;

    public int MaxConnections { get; init; } = 64;

    public int QueueCapacity { get; init; } = 256;

    public double ShutdownTimeoutSeconds { get; init; } = 10;
}
