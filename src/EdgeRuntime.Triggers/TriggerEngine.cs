using System.Globalization;
using EdgeRuntime.Protocol;
using EdgeRuntime.Sensors;
using EdgeRuntime.Sensors.Gpio;
using EdgeRuntime.Store;

namespace EdgeRuntime.Triggers;

/// <summary>
/// Evaluates the trigger rules against what the sensors deliver and starts a <see cref="TriggeredRun"/> (or a
/// <see cref="CaptionRun"/>, or the pipeline) for each firing. Sensor callbacks only decide and hand off: model runs,
/// window waits and store writes happen on the thread pool, so a slow model never stalls a microphone's capture
/// thread. Only the model runs are limited (to maxConcurrentRuns at once); waiting for a window and for the store
/// costs no slot. At most
/// <see cref="MaxPendingRuns"/> firings are in progress at once; beyond that a firing is dropped and counted, rather
/// than memory growing without bound. Time comes from the sensor host's clock (<see cref="SensorHost.TimeProvider"/>):
/// the firings are compared with the timestamps its sources stamp, and tests move a fake one.
/// </summary>
public sealed class TriggerEngine : ISensorObserver, IAsyncDisposable
{
    private readonly List<TriggerRule> _rules = [];
    private readonly SensorHost _sensors;
    private readonly TimeProvider _time;
    private readonly TriggeredRun _run;
    private readonly CaptionRun? _captions;
    private readonly Func<PipelineFiring, CancellationToken, Task>? _runPipeline;
    private readonly Action<string> _log;
    private readonly CancellationTokenSource _stop = new();      // cancels runs still in progress (last resort)
    private readonly CancellationTokenSource _noMore = new();    // stops schedules and model loops; no new firings
    private readonly List<Task> _loops = [];
    private readonly List<ModelTriggerLoop> _modelLoops = [];
    private readonly SemaphoreSlim _concurrency;
    private int _pending;
    private int _running;
    private readonly TaskCompletionSource _idle = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <param name="runPipeline">Runs a pipeline for a trigger with "pipeline" (what fired it, and when); it stores its own result.</param>
    /// <param name="captioner">Captions camera frames for triggers with "caption"; without one such a trigger is refused at start.</param>
    public TriggerEngine(IEnumerable<TriggerConfig> triggers, SensorHost sensors, WindowModelRunner runner, ResultJournal journal, GpioChips chips, Action<string> log, int maxConcurrentRuns = 4, Func<PipelineFiring, CancellationToken, Task>? runPipeline = null, IFrameCaptioner? captioner = null)
    {
        _runPipeline = runPipeline;
        _sensors = sensors;
        _time = sensors.TimeProvider;
        _log = log;
        _concurrency = new SemaphoreSlim(maxConcurrentRuns, maxConcurrentRuns);
        var actions = new TriggerActions(chips, log, _time);
        _run = new TriggeredRun(sensors, runner, journal, actions, log, _time);
        _captions = captioner is null ? null : new CaptionRun(sensors, captioner, journal, actions, log, _time);
        foreach (var config in triggers)
        {
            var rule = new TriggerRule(config, TriggerValidation.Validate(config, sensors), _time);
            if (config.Caption is not null && captioner is null)
            {
                throw new ArgumentException($"Trigger '{config.Name}': \"caption\" needs the daemon's language models, and this engine was given no captioner.");
            }

            if (config.On.Threshold is { } threshold)
            {
                rule.Channel = sensors.Find(threshold.Sensor)!.Channels.ToList().IndexOf(threshold.Channel);
            }

            _rules.Add(rule);
            actions.Add(rule);
            if (config.On.Model is not null)
            {
                _modelLoops.Add(new ModelTriggerLoop(rule, runner, this, log, _time));
            }
        }

        if (_rules.Select(r => r.Name).Distinct(StringComparer.Ordinal).Count() != _rules.Count)
        {
            throw new ArgumentException("Two triggers have the same name.");
        }
    }

    public int MaxPendingRuns { get; init; } = 1024;

    public TriggerStatus[] Status() => [.. _rules.Select(r => r.Status())];

    /// <summary>The pipelines the triggers name, to check against those loaded.</summary>
    public IEnumerable<(string Trigger, string Pipeline)> PipelineTriggers =>
        _rules.Where(r => r.Config.Pipeline is not null).Select(r => (r.Name, r.Config.Pipeline!));

    /// <summary>The pipelines the triggers name with the window before the firing their live runs start at.</summary>
    public IEnumerable<(string Trigger, string Pipeline, double PreMs)> PipelineTriggerWindows =>
        _rules.Where(r => r.Config.Pipeline is not null).Select(r => (r.Name, r.Config.Pipeline!, r.Config.PreMs));

    public void Start()
    {
        foreach (var rule in _rules.Where(r => r.Config.On.EverySeconds is not null))
        {
            // The timer starts here, not when the thread pool gets to the loop: the period runs from Start, and a
            // clock moved right after Start (a fake one in tests) already counts towards the first tick.
            var timer = new PeriodicTimer(TimeSpan.FromSeconds(rule.Config.On.EverySeconds!.Value), _time);
            _loops.Add(Task.Run(() => ScheduleAsync(rule, timer, _noMore.Token)));
        }

        foreach (var loop in _modelLoops)
        {
            _loops.Add(Task.Run(() => loop.RunAsync(_noMore.Token)));
        }
    }

    internal void Fire(TriggerRule rule, string cause, long timestamp)
    {
        if (_noMore.IsCancellationRequested || !rule.TryFire(timestamp))
        {
            return;
        }

        if (Interlocked.Increment(ref _pending) > MaxPendingRuns)
        {
            Interlocked.Decrement(ref _pending);
            rule.Dropped();
            _log($"trigger {rule.Name}: {MaxPendingRuns} runs already waiting; this firing is dropped");
            return;
        }

        var firedAt = _time.GetUtcNow();
        Interlocked.Increment(ref _running);
        _ = Task.Run(async () =>
        {
            try
            {
                if (rule.Config.Pipeline is { } pipeline)
                {
                    await RunPipelineAsync(rule, new PipelineFiring(pipeline, $"trigger {rule.Name}: {cause}", timestamp, rule.Config.PreMs)).ConfigureAwait(false);
                }
                else if (rule.Config.Caption is not null)
                {
                    await _captions!.RunAsync(rule, cause, timestamp, firedAt, _concurrency, _stop.Token).ConfigureAwait(false);
                }
                else
                {
                    await _run.RunAsync(rule, cause, timestamp, firedAt, _concurrency, _stop.Token).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                // Stopping took longer than the grace period: this run is abandoned, and counted as failed.
                rule.Failed();
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // Not even its error could be stored (the store failed): counted and logged, never unobserved.
                rule.Failed();
                _log($"trigger {rule.Name}: the result could not be stored: {e.Message}");
            }
            finally
            {
                Interlocked.Decrement(ref _pending);
                if (Interlocked.Decrement(ref _running) == 0 && _noMore.IsCancellationRequested)
                {
                    _idle.TrySetResult();
                }
            }
        });
    }

    /// <summary>
    /// A pipeline takes a run slot for its whole run: a live one follows the sensors (from preMs before the firing)
    /// until its last unit, a replayed one paces its files.
    /// </summary>
    private async Task RunPipelineAsync(TriggerRule rule, PipelineFiring firing)
    {
        string pipeline = firing.Pipeline;
        var run = _runPipeline ?? throw new InvalidOperationException($"trigger {rule.Name}: this daemon runs no pipelines");
        await _concurrency.WaitAsync(_stop.Token).ConfigureAwait(false);
        try
        {
            await run(firing, _stop.Token).ConfigureAwait(false);
            rule.Completed();
        }
        catch (Exception e) when (e is not (OperationCanceledException or OutOfMemoryException))
        {
            // The pipeline host stored the failure when it got that far; here it is counted and logged.
            rule.Failed();
            _log($"trigger {rule.Name}: pipeline {pipeline} failed: {e.Message}");
        }
        finally
        {
            _concurrency.Release();
        }
    }

    void ISensorObserver.OnEdge(ISensorSource source, GpioEdge edge)
    {
        foreach (var rule in _rules)
        {
            if (rule.Config.On.Gpio == source.Name)
            {
                Fire(rule, $"gpio {source.Name} {(edge.Rising ? "rising" : "falling")}", edge.Timestamp);
            }
        }
    }

    void ISensorObserver.OnFrame(ISensorSource source, in SensorFrame frame)
    {
        foreach (var rule in _rules)
        {
            if (rule.Config.On.Threshold is { } threshold && threshold.Sensor == source.Name)
            {
                CheckThreshold(rule, threshold, frame);
            }
        }

        foreach (var loop in _modelLoops)
        {
            if (loop.Sensor == source.Name)
            {
                loop.Accept(frame, source.SampleRate);
            }
        }
    }

    /// <summary>Fires on the crossing, then waits for the value to come back past the hysteresis band before firing again.</summary>
    private void CheckThreshold(TriggerRule rule, ThresholdWhen threshold, in SensorFrame frame)
    {
        var span = frame.Samples.Span;
        for (int i = 0; i < frame.Count; i++)
        {
            double v = span[(i * frame.Channels) + rule.Channel];
            bool crossed, rearm;
            if (threshold.Above is double above)
            {
                crossed = v >= above;
                rearm = v < above - threshold.Hysteresis;
            }
            else
            {
                double below = threshold.Below!.Value;
                crossed = v <= below;
                rearm = v > below + threshold.Hysteresis;
            }

            if (rule.Armed && crossed)
            {
                rule.Armed = false;
                Fire(rule, string.Create(CultureInfo.InvariantCulture, $"threshold {threshold.Sensor}.{threshold.Channel} = {v:0.###}"), frame.Timestamp);
            }
            else if (!rule.Armed && rearm)
            {
                rule.Armed = true;
            }
        }
    }

    private async Task ScheduleAsync(TriggerRule rule, PeriodicTimer timer, CancellationToken stop)
    {
        using var owned = timer;
        try
        {
            while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false))
            {
                Fire(rule, "schedule", _time.GetTimestamp());
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>
    /// Stops firing, lets the runs in progress finish and store their results (up to <paramref name="grace"/>; the
    /// sensors are still running, so their windows complete), then cancels whatever is left.
    /// </summary>
    public async ValueTask StopAsync(TimeSpan grace)
    {
        if (_noMore.IsCancellationRequested)
        {
            return;
        }

        await _noMore.CancelAsync().ConfigureAwait(false);
        if (Volatile.Read(ref _running) == 0)
        {
            _idle.TrySetResult();
        }

        // The grace is wall time on purpose: it bounds how long stopping takes (systemd's stop timeout is wall time),
        // and a fake clock nobody moves must not turn a stuck run into a hung shutdown.
        try
        {
            await Task.WhenAll(_loops).WaitAsync(grace).ConfigureAwait(false);
            await _idle.Task.WaitAsync(grace).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            _log($"triggers: runs still going {grace.TotalSeconds:0.#} s into shutdown; cancelling them");
            await _stop.CancelAsync().ConfigureAwait(false);
            try
            {
                await _idle.Task.WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        _stop.Dispose();
        _noMore.Dispose();
    }

}

/// <summary>
/// A trigger's firing of a pipeline: which, why (stored as the result's cause), when (the sensor host's clock ticks of
/// the edge or sample that fired it) and how far before that a live run starts.
/// </summary>
public sealed record PipelineFiring(string Pipeline, string Cause, long Timestamp, double PreMs);
