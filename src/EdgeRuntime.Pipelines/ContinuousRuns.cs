using EdgeRuntime.Protocol;

namespace EdgeRuntime.Pipelines;

/// <summary>
/// A live pipeline run continuously: a new run every hop, each starting at its tick and following the live stream, so
/// with a hop shorter than the window the runs' windows overlap (a sliding window). Each result is stored, cause
/// "continuous". At most <see cref="MaxInFlight"/> runs go at once; a tick that finds that many still running is dropped
/// and counted rather than letting work pile up behind a slow model.
/// </summary>
internal sealed class ContinuousRuns : IAsyncDisposable
{
    public const int MaxInFlight = 4;

    private readonly PipelineHost _host;
    private readonly string _pipeline;
    private readonly Action<string> _log;
    private readonly CancellationTokenSource _noMore = new();
    private readonly CancellationTokenSource _abort = new();
    private readonly TaskCompletionSource _idle = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _loop = Task.CompletedTask;
    private int _inFlight;
    private long _started, _dropped;

    private ContinuousRuns(PipelineHost host, string pipeline, Action<string> log)
    {
        _host = host;
        _pipeline = pipeline;
        _log = log;
    }

    public long Started => Interlocked.Read(ref _started);

    public long Dropped => Interlocked.Read(ref _dropped);

    public static ContinuousRuns Start(PipelineHost host, string pipeline, double hopMs, TimeProvider time, Action<string> log)
    {
        var runs = new ContinuousRuns(host, pipeline, log);
        // The timer is made here, so the first hop counts from the load, not from when the pool gets to the loop.
        var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(hopMs), time);
        runs._loop = Task.Run(() => runs.LoopAsync(timer));
        return runs;
    }

    private async Task LoopAsync(PeriodicTimer timer)
    {
        using var owned = timer;
        try
        {
            while (await timer.WaitForNextTickAsync(_noMore.Token).ConfigureAwait(false))
            {
                if (Interlocked.Increment(ref _inFlight) > MaxInFlight)
                {
                    Interlocked.Decrement(ref _inFlight);
                    if (Interlocked.Increment(ref _dropped) is 1 or 100 or 10_000)
                    {
                        _log($"pipeline {_pipeline}: {MaxInFlight} continuous runs still going at the next hop; hops are dropped ({Dropped} so far)");
                    }

                    continue;
                }

                Interlocked.Increment(ref _started);
                _ = RunOneAsync();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task RunOneAsync()
    {
        try
        {
            await _host.RunAsync(new PipelineRunRequest(_pipeline), _abort.Token, "continuous").ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Stored by the host when the run got that far (a sensor lost, a model error); logged here either way.
            _log($"pipeline {_pipeline}: a continuous run failed: {e.Message}");
        }
        finally
        {
            if (Interlocked.Decrement(ref _inFlight) == 0 && _noMore.IsCancellationRequested)
            {
                _idle.TrySetResult();
            }
        }
    }

    /// <summary>No more runs; those in progress get 5 s to finish and be stored, then are cancelled.</summary>
    public async ValueTask DisposeAsync()
    {
        await _noMore.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        if (Volatile.Read(ref _inFlight) == 0)
        {
            _idle.TrySetResult();
        }

        try
        {
            await _idle.Task.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            await _abort.CancelAsync().ConfigureAwait(false);
            try
            {
                await _idle.Task.WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // A run that ignores cancellation is left to finish on its own; stopping goes on.
                _log($"pipeline {_pipeline}: a continuous run did not stop within 7 s");
            }
        }

        _noMore.Dispose();
        _abort.Dispose();
    }
}
