using EdgeRuntime.Inference;
using EdgeRuntime.Protocol;
using EdgeRuntime.Sensors;
using EdgeRuntime.Sensors.Gpio;
using EdgeRuntime.Server;
using EdgeRuntime.Store;
using EdgeRuntime.Triggers;

namespace EdgeRuntime.Daemon;

/// <summary>
/// The daemon's headless side: the sensors and the trigger rules over them, built from the configuration and the
/// board profile (which names the GPIO chip), writing to the result store the composition root opened and closes. It works with no client connected; the socket
/// sees it through <see cref="IHeadlessServices"/> (subscribe, inject, health).
/// </summary>
internal sealed class HeadlessRuntime : IHeadlessServices, IAsyncDisposable
{
    private readonly GpioChips _chips;
    private readonly SensorHost _sensors;
    private readonly TriggerEngine? _triggers;
    private readonly ITimer? _retention;
    private readonly TimeProvider _time;
    private int _disposed;

    private HeadlessRuntime(GpioChips chips, SensorHost sensors, TriggerEngine? triggers, ResultJournal? journal, TimeProvider time)
    {
        _chips = chips;
        _time = time;
        _sensors = sensors;
        _triggers = triggers;
        Journal = journal;
        // Size retention runs at every commit; age retention also needs a clock when nothing is being stored.
        _retention = journal is null ? null : time.CreateTimer(_ => journal.TryEnforceRetention(), null, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1));
    }

    public ResultJournal? Journal { get; }

    /// <summary>
    /// Opens the result store the configuration names, or returns null when it names none. The store is opened before
    /// the headless side and the pipelines, which both write to it, and closed after the server has stopped.
    /// </summary>
    public static ResultJournal? OpenStore(DaemonConfig config, Action<string> log, TimeProvider time) =>
        config.Store is not { } store
            ? null
            : ResultJournal.Open(
                new JournalOptions(store.Path)
                {
                    MaxBytes = (long)(store.MaxMiB * 1024 * 1024),
                    MaxAge = TimeSpan.FromHours(store.MaxAgeHours),
                    SegmentBytes = (long)(store.SegmentKiB * 1024),
                    TimeProvider = time,
                },
                log);

    /// <summary>
    /// Builds the sensors and the triggers over them; a configuration mistake throws ArgumentException naming the
    /// sensor or trigger. <paramref name="time"/> is the one clock of the headless side: sensors, triggers, pulses and
    /// the store's retention. The journal stays its opener's to close. <paramref name="captioner"/> serves the
    /// triggers that caption camera frames; without one, a configuration with such a trigger is refused.
    /// </summary>
    public static HeadlessRuntime Create(DaemonConfig config, EdgeRuntime.Boards.GpioInfo? gpio, WindowModelRunner runner, int workers, ResultJournal? journal, Action<string> log, TimeProvider time, Func<PipelineFiring, CancellationToken, Task>? runPipeline = null, IFrameCaptioner? captioner = null) =>
        Create(config, CreateSensors(config, gpio, log, time), runner, workers, journal, log, time, runPipeline, captioner);

    /// <summary>
    /// The sensors alone, not started: the daemon builds them before its pipelines, whose live inputs read them, and
    /// hands them to <see cref="Create(DaemonConfig, SensorSetup, WindowModelRunner, int, ResultJournal?, Action{string}, TimeProvider, Func{PipelineFiring, CancellationToken, Task}?, IFrameCaptioner?)"/>,
    /// which owns them from then on.
    /// </summary>
    public static SensorSetup CreateSensors(DaemonConfig config, EdgeRuntime.Boards.GpioInfo? gpio, Action<string> log, TimeProvider time)
    {
        var chips = new GpioChips(gpio?.Chip, gpio?.Numbering ?? "logical", time);
        var sensors = new SensorHost(log, time);
        try
        {
            foreach (var sensor in config.Sensors)
            {
                sensors.Add(SensorFactory.Create(sensor, chips, Environment.CurrentDirectory, time), sensor.BufferMs, sensor.OnDemand);
            }

            return new SensorSetup(chips, sensors);
        }
        catch
        {
            chips.Dispose();
            throw;
        }
    }

    /// <summary>Builds the triggers over the sensors; the runtime owns the sensors from here, also when this throws.</summary>
    public static HeadlessRuntime Create(DaemonConfig config, SensorSetup setup, WindowModelRunner runner, int workers, ResultJournal? journal, Action<string> log, TimeProvider time, Func<PipelineFiring, CancellationToken, Task>? runPipeline = null, IFrameCaptioner? captioner = null)
    {
        var (chips, sensors) = setup;
        try
        {
            TriggerEngine? triggers = null;
            if (config.Triggers.Length > 0)
            {
                triggers = new TriggerEngine(config.Triggers, sensors, runner, journal!, chips, log, maxConcurrentRuns: Math.Max(2, workers * 2), runPipeline, captioner);
                sensors.AddListener(triggers);
            }

            return new HeadlessRuntime(chips, sensors, triggers, journal, time);
        }
        catch
        {
            chips.Dispose();
            throw;
        }
    }

    /// <summary>(trigger, pipeline, preMs) for every trigger that runs a pipeline.</summary>
    public IEnumerable<(string Trigger, string Pipeline, double PreMs)> PipelineTriggerWindows =>
        _triggers?.PipelineTriggerWindows ?? [];

    public bool IsEmpty => !_sensors.Sources.Any() && _triggers is null && Journal is null;

    /// <summary>Starts triggers and sensors, and returns once every sensor has opened or failed (at most 5 s).</summary>
    public async Task<string[]> StartAsync()
    {
        _triggers?.Start();
        _sensors.Start();
        return await _sensors.WhenSettledAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
    }

    public InjectResponse Inject(InjectRequest request)
    {
        var source = _sensors.Find(request.Sensor)
            ?? throw new EdgeRuntimeException(ErrorCodes.UnknownSensor, $"No sensor is named '{request.Sensor}'; configured: {string.Join(", ", _sensors.Sources.Select(s => s.Name))}.");
        if (source is not ISimulatedInput input)
        {
            throw new EdgeRuntimeException(ErrorCodes.UnknownSensor, $"Sensor '{request.Sensor}' is a {source.Type} sensor, which takes no injected input.");
        }

        try
        {
            if (request.Edge is not null)
            {
                input.InjectEdge(request.Edge switch
                {
                    "rising" => true,
                    "falling" => false,
                    _ => throw new ArgumentException($"edge is '{request.Edge}'; it must be 'rising' or 'falling'."),
                });
            }
            else if (request.Values is { Length: > 0 } values)
            {
                input.InjectValues([.. values.Select(v => KeyValuePair.Create(v.Channel, v.Value))]);
            }
            else
            {
                throw new ArgumentException("inject needs \"edge\" or \"values\".");
            }
        }
        catch (InvalidOperationException e)
        {
            throw new EdgeRuntimeException(ErrorCodes.UnknownSensor, e.Message);
        }
        catch (ArgumentException e)
        {
            throw new EdgeRuntimeException(ErrorCodes.BadRequest, e.Message);
        }

        return new InjectResponse(request.Sensor, _time.GetUtcNow());
    }

    public SensorStatus[] Sensors() => _sensors.Status();

    public TriggerStatus[] Triggers() => _triggers?.Status() ?? [];

    /// <summary>(trigger, pipeline) for every trigger that runs a pipeline.</summary>
    public IEnumerable<(string Trigger, string Pipeline)> PipelineTriggers => _triggers?.PipelineTriggers ?? [];

    public string[] Problems() => _sensors.Problems();

    /// <summary>Triggers first (their runs finish and are stored), then sensors. The store is not closed here: its
    /// opener (Program.cs) closes it after the server, whose subscribers still read it, has stopped.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (_retention is not null)
        {
            await _retention.DisposeAsync().ConfigureAwait(false);
        }

        if (_triggers is not null)
        {
            await _triggers.DisposeAsync().ConfigureAwait(false);
        }

        await _sensors.DisposeAsync().ConfigureAwait(false);
        _chips.Dispose();
    }
}

/// <summary>The sensors and the GPIO chips they use, built but not started.</summary>
internal sealed record SensorSetup(GpioChips Chips, SensorHost Sensors);
