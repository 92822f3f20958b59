namespace EdgeRuntime.Server;

/// <summary>The limits and access rules of one listening socket.</summary>
public sealed record ServerOptions
{
    public required string SocketPath { get; init; }

    /// <summary>Largest frame (header + JSON + payload) accepted; larger frames are refused from their header alone.</summary>
    public long MaxFrameBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>Requests one connection may have outstanding; past this the server stops reading from it.</summary>
    public int MaxInFlightPerConnection { get; init; } = 64;

    public int MaxConnections { get; init; } = 64;

    /// <summary>
    /// Request payload bytes held at once across all connections (copied out of the socket, not yet answered). When
    /// it is spent, connections stop reading until requests finish. Must be at least <see cref="MaxFrameBytes"/>.
    /// </summary>
    public long MaxPendingBytes { get; init; } = 256L * 1024 * 1024;

    /// <summary>A response send that makes no progress for this long (the client stopped reading) closes the connection.</summary>
    public TimeSpan SendTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Peers allowed to connect. A peer is allowed when its uid is in <see cref="AllowedUids"/> or its gid in
    /// <see cref="AllowedGids"/> (primary or supplementary). When both are empty: root and the daemon's own uid.
    /// </summary>
    public uint[] AllowedUids { get; init; } = [];

    public uint[] AllowedGids { get; init; } = [];

    /// <summary>
    /// The most a connection's receive thread polls for the client's next request before sleeping, so a client that
    /// sends requests back to back finds the daemon awake (see ReceiveSpinPolicy). Zero sleeps at once.
    /// </summary>
    public TimeSpan ReceiveSpin { get; init; } = TimeSpan.FromMicroseconds(200);

    /// <summary>How long a stop waits for in-flight requests before it closes connections anyway.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public string DaemonVersion { get; init; } = "0.0.0";

    public string Board { get; init; } = "host";

    /// <summary>The runtime identifier and SIMD features, reported by hello (e.g. "linux-arm64 (AdvSimd, Dp)").</summary>
    public string Platform { get; init; } = string.Empty;
}
