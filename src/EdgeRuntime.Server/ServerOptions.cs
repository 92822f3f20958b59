namespace EdgeRuntime.Server;

/// <summary>The limits and access rules of one listening socket.</summary>
public sealed record ServerOptions
{
    public required string SocketPath { get; init; }

    /// <summary>Largest frame (header + JSON + payload) accepted; larger frames are refused from their header alone.</summary>
    public long MaxFrameBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>
    /// A frame above <see cref="MaxFrameBytes"/> but at most this large is skipped as it arrives and the connection
    /// stays open; a larger one (a corrupt length field, say 2 GiB) closes it, since skipping would outlast any client.
    /// </summary>
    public long MaxSkippedFrameBytes => Math.Max(4 * MaxFrameBytes, 16L * 1024 * 1024);

    /// <summary>Requests one connection may have outstanding; past this the server stops reading from it.</summary>
    public int MaxInFlightPerConnection { get; init; } = 64;

    public int MaxConnections { get; init; } = 64;

    /// <summary>
    /// Connections one peer uid may hold at once, so that one user (or one runaway app) cannot take every slot from the
    /// others. Zero means three quarters of <see cref="MaxConnections"/> (at least one).
    /// </summary>
    public int MaxConnectionsPerUid { get; init; }

    public int EffectiveMaxConnectionsPerUid => MaxConnectionsPerUid > 0 ? MaxConnectionsPerUid : Math.Max(1, MaxConnections * 3 / 4);

    /// <summary>
    /// Once a frame's first byte has arrived, the rest must arrive within this long, or the connection is closed with
    /// <c>frame_timeout</c>. A client that sends part of a header and stalls would otherwise hold its slot for ever.
    /// </summary>
    public TimeSpan FrameTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A connection with nothing in flight, no subscription and no bytes for this long is closed. Zero: never.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.Zero;

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

    /// <summary>Clients may register shared-memory regions (region-register) and name them in infer. Off by default.</summary>
    public bool SharedMemoryEnabled { get; init; }

    /// <summary>The largest region one registration may map.</summary>
    public long MaxRegionBytes { get; init; } = 256L * 1024 * 1024;

    /// <summary>How many regions one connection may hold at once.</summary>
    public int MaxRegionsPerConnection { get; init; } = 16;

    public string DaemonVersion { get; init; } = "0.0.0";

    public string Board { get; init; } = "host";

    /// <summary>The runtime identifier and SIMD features, reported by hello (e.g. "linux-arm64 (AdvSimd, Dp)").</summary>
    public string Platform { get; init; } = string.Empty;
}
