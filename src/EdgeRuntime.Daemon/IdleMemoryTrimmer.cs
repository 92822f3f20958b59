using System.Runtime.InteropServices;
using EdgeRuntime.Inference;
using EdgeRuntime.Server;

namespace EdgeRuntime.Daemon;

/// <summary>
/// Polls once a second and, when <see cref="IdleMemoryPolicy"/> says so, returns memory to the system: a blocking,
/// compacting, aggressive full collection (which also runs the shared ArrayPool's trim and decommits the freed heap)
/// and glibc's malloc_trim for native memory ONNX Runtime freed. The collection pauses the process for a few
/// milliseconds, which only happens when nothing is being served.
/// </summary>
internal sealed partial class IdleMemoryTrimmer : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    private IdleMemoryTrimmer(IdleMemoryPolicy policy, IServerLog log, TimeProvider time)
    {
        _loop = RunAsync(policy, log, time, _stop.Token);
    }

    /// <summary>Starts trimming after <paramref name="quietFor"/> of quiet; null when that is zero (off).</summary>
    public static IdleMemoryTrimmer? Start(TimeSpan quietFor, IServerLog log, TimeProvider time) =>
        quietFor > TimeSpan.Zero ? new IdleMemoryTrimmer(new IdleMemoryPolicy(quietFor), log, time) : null;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }

    /// <summary>Returns what it can; (RSS before, RSS after) in bytes.</summary>
    public static (long Before, long After) Trim()
    {
        long before = ProcessMemory.ResidentBytes();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        if (OperatingSystem.IsLinux())
        {
            try
            {
                MallocTrim(0);
            }
            catch (EntryPointNotFoundException)
            {
                // A C library without malloc_trim (musl): the managed part is still returned.
            }
        }

        return (before, ProcessMemory.ResidentBytes());
    }

    private static async Task RunAsync(IdleMemoryPolicy policy, IServerLog log, TimeProvider time, CancellationToken stop)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1), time);
        long start = time.GetTimestamp();
        while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false))
        {
            if (policy.ShouldTrim(time.GetElapsedTime(start), GC.GetTotalAllocatedBytes()))
            {
                var (before, after) = Trim();
                log.Write(LogLevel.Info, "memory", $"quiet for {policy.QuietFor.TotalSeconds:0.#} s after work: memory returned, resident {before / (1024.0 * 1024):0.0} MiB -> {after / (1024.0 * 1024):0.0} MiB");
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);
}
