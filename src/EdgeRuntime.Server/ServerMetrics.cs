namespace EdgeRuntime.Server;

/// <summary>
/// Live counters shared by the listener and its connections, read by the health message. Start time and uptime come
/// from <paramref name="timeProvider"/> (the system clock unless a test gives another).
/// </summary>
public sealed class ServerMetrics(TimeProvider? timeProvider = null)
{
    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;
    private int _connections;
    private int _inFlight;

    public DateTimeOffset StartedAt { get; } = (timeProvider ?? TimeProvider.System).GetUtcNow();

    public TimeSpan Uptime => _time.GetUtcNow() - StartedAt;

    public int Connections => Volatile.Read(ref _connections);

    public int InFlight => Volatile.Read(ref _inFlight);

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> _problems = new(StringComparer.Ordinal);

    /// <summary>Conditions that make health 'degraded' (a preload that failed, a sensor that is gone), by source.</summary>
    public string[] Problems => [.. _problems.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}: {p.Value}")];

    public void ReportProblem(string source, string problem) => _problems[source] = problem;

    internal void ConnectionOpened() => Interlocked.Increment(ref _connections);

    internal void ConnectionClosed() => Interlocked.Decrement(ref _connections);

    internal void RequestStarted() => Interlocked.Increment(ref _inFlight);

    internal void RequestFinished() => Interlocked.Decrement(ref _inFlight);
}
