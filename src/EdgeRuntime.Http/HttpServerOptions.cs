namespace EdgeRuntime.Http;

/// <summary>Where the OpenAI-compatible endpoint listens, who may use it, and its limits.</summary>
public sealed record HttpServerOptions
{
    /// <summary>The UNIX socket to listen on; created with mode 0660 like the main socket.</summary>
    public required string SocketPath { get; init; }

    /// <summary>Peers allowed, as for the main socket (ServerOptions.AllowedUids): both empty means root and the daemon's uid.</summary>
    public uint[] AllowedUids { get; init; } = [];

    public uint[] AllowedGids { get; init; } = [];

    /// <summary>Connections open at once; Kestrel closes one more without an answer.</summary>
    public int MaxConnections { get; init; } = 64;

    /// <summary>Largest request body; a larger one is answered 413.</summary>
    public long MaxRequestBodyBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>How long a stop lets running requests finish before their connections are closed (and generations cancelled).</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(10);
}
