namespace EdgeRuntime.Bench;

/// <summary>The soak's side traffic: reconnects, loads and unloads, health polls, vanished clients, and what failed.</summary>
internal sealed class SoakCounters
{
    private readonly Lock _gate = new();
    private readonly List<string> _failures = [];
    private long _connects;
    private long _vanished;
    private long _admin;
    private int _deepestQueue;

    public long Failures
    {
        get
        {
            lock (_gate)
            {
                return _failures.Count;
            }
        }
    }

    public void Connected() => Interlocked.Increment(ref _connects);

    public void Vanished() => Interlocked.Increment(ref _vanished);

    public void SawQueueDepth(int depth)
    {
        lock (_gate)
        {
            _deepestQueue = Math.Max(_deepestQueue, depth);
        }
    }

    /// <summary>A load, unload or health call that must succeed; a failure is recorded with its message.</summary>
    public async Task<T?> AdminAsync<T>(Func<Task<T>> call, string what)
        where T : class
    {
        try
        {
            var result = await call();
            Interlocked.Increment(ref _admin);
            return result;
        }
        catch (Exception e)
        {
            lock (_gate)
            {
                _failures.Add($"{what}: {e.Message}");
            }

            return null;
        }
    }

    public string Describe()
    {
        lock (_gate)
        {
            string failures = _failures.Count == 0 ? "no failures" : $"{_failures.Count} failures, first: {_failures[0]}";
            return $"{_connects} reconnects, {_admin} loads/unloads/health polls, {_vanished} clients that sent part of a frame and vanished, deepest queue {_deepestQueue}; {failures}";
        }
    }
}
