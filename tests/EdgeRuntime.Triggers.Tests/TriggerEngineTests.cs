using System.Device.Gpio;
using System.Runtime.InteropServices;
using EdgeRuntime.Inference;
using EdgeRuntime.Onnx;
using EdgeRuntime.Protocol;
using EdgeRuntime.Sensors.Gpio;
using EdgeRuntime.Store;
using EdgeRuntime.Triggers;
using Microsoft.Extensions.Time.Testing;
using EdgeRuntime.Sensors.Tests;
using EdgeRuntime.Sensors;

namespace EdgeRuntime.Triggers.Tests;

/// <summary>
/// The trigger engine with real parts: sensors on the simulated GPIO chip and hand-driven streams, ONNX Runtime
/// running a model through the registry and scheduler, and the journal on disk. Time is a fake clock shared by the
/// sensors, the engine and the simulated chip: edges and samples are stamped by it, hold-off, schedules, windows and
/// pulses are timed by it, so every time in these tests is exact and nothing waits for wall time to pass.
/// </summary>
public sealed class TriggerEngineTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _clock = new();
    private readonly long _t0; // the fake clock's timestamp when the test began: samples are stamped relative to it
    private readonly string _dir = Directory.CreateTempSubdirectory("triggers-").FullName;
    private ModelRegistry _registry = null!;
    private InferenceScheduler _scheduler = null!;
    private ResultJournal _journal = null!;
    private readonly GpioChips _chips;
    private readonly SensorHost _host;
    private readonly List<string> _log = [];
    private TriggerEngine? _engine;

    public TriggerEngineTests()
    {
        _chips = new GpioChips(null, timeProvider: _clock);
        _host = new SensorHost(_ => { }, _clock);
        _t0 = _clock.GetTimestamp();
    }

    /// <summary>Timestamp ticks per millisecond of the fake clock.</summary>
    private long Ms => _clock.TimestampFrequency / 1000;

    /// <summary>Pushes one 1 kHz block whose sample at t ms after the test began has the value t, for t in [fromMs, toMs].</summary>
    private void PushMs(ManualSource stream, int fromMs, int toMs) =>
        stream.Push(_t0 + (toMs * Ms), [.. Enumerable.Range(fromMs, toMs - fromMs + 1).Select(v => (float)v)]);

    public async Task InitializeAsync()
    {
        // echo: y = x for x float32[1, T], so a stored result shows exactly which samples the window held.
        File.WriteAllBytes(Path.Combine(_dir, "echo.onnx"), new OnnxModelBuilder()
            .Input("x", TensorDType.Float32, 1, "T")
            .Node("Identity", ["x"], ["y"])
            .Output("y", TensorDType.Float32, 1, "T")
            .Build());
        var options = new InferenceOptions { IntraOpThreads = 1, Workers = 2 };
        _registry = new ModelRegistry(_dir, options);
        _scheduler = new InferenceScheduler(options);
        await _registry.LoadAsync("echo", "echo.onnx");
        _journal = ResultJournal.Open(new JournalOptions(Path.Combine(_dir, "results")));
    }

    public async Task DisposeAsync()
    {
        if (_engine is not null)
        {
            await _engine.DisposeAsync();
        }

        await _host.DisposeAsync();
        _journal.Dispose();
        _scheduler.Dispose();
        _registry.Dispose();
        _chips.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private TriggerEngine Start(params TriggerConfig[] triggers) => StartWith(null, triggers);

    private TriggerEngine StartWith(Func<PipelineFiring, CancellationToken, Task>? runPipeline, params TriggerConfig[] triggers)
    {
        _engine = new TriggerEngine(triggers, _host, new WindowModelRunner(_registry, _scheduler), _journal, _chips, m => { lock (_log) { _log.Add(m); } }, runPipeline: runPipeline);
        _host.AddListener(_engine);
        _engine.Start();
        _host.Start();
        return _engine;
    }

    /// <summary>A hand-driven 1 kHz stream with a pre-trigger buffer, and a button on the simulated GPIO chip.</summary>
    private (ManualSource Stream, GpioEdgeSource Button) StreamAndButton(int pin, double bufferMs, double debounceMs = 0)
    {
        var stream = new ManualSource("stream", ["v"], sampleRate: 1000, _clock);
        var button = new GpioEdgeSource(new SensorConfig { Name = "button", Type = "gpio", Pin = pin, DebounceMs = debounceMs, Simulated = true }, _chips) { TimeProvider = _clock };
        _host.Add(stream, bufferMs);
        _host.Add(button, 0);
        return (stream, button);
    }

    private static TriggerConfig Trigger(string name, TriggerWhen on, string sensor = "stream", double preMs = 50, double postMs = 0) => new()
    {
        Name = name,
        On = on,
        Run = new TriggerRun { Model = "echo", Window = new CaptureWindowConfig { Sensor = sensor, PreMs = preMs, PostMs = postMs } },
    };

    private List<(ResultEvent Event, float[] Y)> Stored()
    {
        using var reader = _journal.OpenReader(0);
        var results = new List<(ResultEvent, float[])>();
        while (reader.TryRead(out var record))
        {
            var e = ProtocolJson.Deserialize(record.Json, ProtocolJsonContext.Default.ResultEvent);
            float[] y = e.Outputs.Length == 0 ? [] : MemoryMarshal.Cast<byte, float>(record.Payload.AsSpan((int)e.Outputs[0].Offset, (int)e.Outputs[0].Length)).ToArray();
            results.Add((e, y));
        }

        return results;
    }

    [Fact]
    public async Task The_window_holds_the_pre_trigger_samples_and_the_stored_result_carries_them()
    {
        var (stream, button) = StreamAndButton(pin: 5, bufferMs: 1000);
        var engine = Start(Trigger("press", new TriggerWhen { Gpio = "button" }, preMs: 50, postMs: 20));
        await Eventually.TrueAsync(() => _host.Status().All(s => s.State == "ok"), "sensors to open");

        // 1 kHz samples whose value is their time in ms, from 300 ms before the edge to 100 ms after it; the clock
        // stands still, so the edge is stamped at exactly 0 ms.
        PushMs(stream, -300, 100);
        await Eventually.TrueAsync(() => stream.Delivered == 1, "the samples to be buffered");
        button.InjectEdge(rising: true);
        await Eventually.TrueAsync(() => engine.Status()[0].Completed == 1, "the triggered run to be stored");
        var (result, y) = Assert.Single(Stored());
        Assert.Null(result.Error);
        Assert.Equal("press", result.Trigger);
        Assert.Equal("gpio button rising", result.Cause);
        Assert.Equal(_clock.GetUtcNow(), result.FiredAt);
        Assert.Equal(-49, result.Window!.StartOffsetMs);
        // Every sample after 50 ms before the edge through 20 ms after it (70 ms at 1 kHz: 70 samples), in order and
        // nothing else.
        Assert.Equal(Enumerable.Range(-49, 70).Select(v => (float)v), y);
        Assert.Equal(70, result.Window.Samples);
        Assert.Equal(20, result.Summary.Single().Value);
    }

    [Fact]
    public async Task A_trigger_can_run_a_pipeline_instead_of_a_model_and_counts_its_outcome()
    {
        var (_, button) = StreamAndButton(pin: 9, bufferMs: 500);
        var calls = new List<(string Pipeline, string Cause, long Timestamp, double PreMs)>();
        int run = 0;
        var engine = StartWith(
            (firing, _) =>
            {
                lock (calls)
                {
                    calls.Add((firing.Pipeline, firing.Cause, firing.Timestamp, firing.PreMs));
                }

                // The second run fails, as a pipeline whose input file went missing would.
                return Interlocked.Increment(ref run) == 2 ? Task.FromException(new IOException("gone")) : Task.CompletedTask;
            },
            new TriggerConfig { Name = "look", On = new TriggerWhen { Gpio = "button" }, Pipeline = "digits", PreMs = 250 });
        await Eventually.TrueAsync(() => _host.Status().All(s => s.State == "ok"), "sensors to open");

        long pressedAt = _clock.GetTimestamp();
        button.InjectEdge(rising: true);
        await Eventually.TrueAsync(() => engine.Status()[0].Completed == 1, "the first pipeline run");
        button.InjectEdge(rising: false);
        button.InjectEdge(rising: true);
        await Eventually.TrueAsync(() => engine.Status()[0].Failed == 1, "the second, failing run");

        lock (calls)
        {
            Assert.Equal(["digits", "digits"], calls.Select(c => c.Pipeline));
            Assert.StartsWith("trigger look: gpio button", calls[0].Cause, StringComparison.Ordinal);
            // A live run starts at the edge (less the window), not when the engine got round to it.
            Assert.All(calls, c => Assert.Equal(250, c.PreMs));
            Assert.Equal(pressedAt, calls[0].Timestamp);
        }

        Assert.Empty(Stored()); // the pipeline host stores pipeline results, not the trigger engine
        // The engine counts the failure before it logs it, so the line may land a moment after Failed reads 1.
        await Eventually.TrueAsync(
            () =>
            {
                lock (_log)
                {
                    return _log.Exists(l => l.Contains("pipeline digits failed: gone", StringComparison.Ordinal));
                }
            },
            "the failure to be logged");
    }

    [Fact]
    public void A_pipeline_trigger_takes_no_model_run_or_actions()
    {
        StreamAndButton(pin: 10, bufferMs: 500);
        var both = new TriggerConfig { Name = "both", On = new TriggerWhen { Gpio = "button" }, Pipeline = "digits", Run = new TriggerRun { Model = "echo" } };
        var error = Assert.Throws<ArgumentException>(() => StartWith((_, _) => Task.CompletedTask, both));
        Assert.Contains("no \"run\"", error.Message);

        var window = new TriggerConfig { Name = "window", On = new TriggerWhen { Gpio = "button" }, Run = new TriggerRun { Model = "echo", Window = new CaptureWindowConfig { Sensor = "stream", PreMs = 10 } }, PreMs = 100 };
        error = Assert.Throws<ArgumentException>(() => StartWith((_, _) => Task.CompletedTask, window));
        Assert.Contains("\"preMs\" is the window before the firing a pipeline's live run starts at; it needs \"pipeline\"", error.Message);
    }

    [Fact]
    public async Task Hold_off_ignores_firings_that_follow_too_soon_and_counts_them()
    {
        var (stream, button) = StreamAndButton(pin: 6, bufferMs: 5000, debounceMs: 1);
        var engine = Start(Trigger("press", new TriggerWhen { Gpio = "button", HoldOffMs = 2000 }));
        await Eventually.TrueAsync(() => _host.Status().All(s => s.State == "ok"), "sensors to open");
        PushMs(stream, -100, 2100); // every window below is already sensed
        await Eventually.TrueAsync(() => stream.Delivered == 1, "the samples to be buffered");

        // An edge reaches the engine inside InjectEdge, so each count below is final when it returns.
        for (int i = 0; i < 5; i++)
        {
            button.InjectEdge(rising: true); // at 0, 20, 40, 60 and 80 ms: past the 1 ms debounce, inside the hold-off
            _clock.Advance(TimeSpan.FromMilliseconds(20));
        }

        Assert.Equal((1, 4), (engine.Status()[0].Fired, engine.Status()[0].HeldOff));
        _clock.Advance(TimeSpan.FromMilliseconds(1899)); // 1999 ms after the first firing: still held off
        button.InjectEdge(rising: true);
        Assert.Equal((1, 5), (engine.Status()[0].Fired, engine.Status()[0].HeldOff));
        _clock.Advance(TimeSpan.FromMilliseconds(1)); // exactly the hold-off: fires
        button.InjectEdge(rising: true);
        Assert.Equal((2, 5), (engine.Status()[0].Fired, engine.Status()[0].HeldOff));

        await Eventually.TrueAsync(() => engine.Status()[0].Completed == 2, "two runs");
        // Each run's window ends at its own firing: 0 ms and 2000 ms.
        Assert.Equal([0f, 2000f], Stored().Select(r => r.Y[^1]).Order());
    }

    [Fact]
    public async Task A_threshold_fires_on_the_crossing_and_rearms_only_past_the_hysteresis_band()
    {
        var env = new ManualSource("env", ["temperature", "humidity"], sampleRate: 100, _clock);
        _host.Add(env, bufferMs: 100);
        var engine = Start(Trigger("hot", new TriggerWhen { Threshold = new ThresholdWhen { Sensor = "env", Channel = "temperature", Above = 30, Hysteresis = 1 } }, sensor: "env", preMs: 20));
        await Eventually.TrueAsync(() => _host.Status()[0].State == "ok", "sensor to open");

        // Crosses at 31; the wobble around 30 stays inside the band; 28.9 re-arms; 30.2 fires again.
        float[] temperatures = [29, 31, 30.5f, 29.5f, 31.5f, 30, 28.9f, 29.9f, 30.2f, 40];
        foreach (float t in temperatures)
        {
            env.Push(t, 50);
            _clock.Advance(TimeSpan.FromMilliseconds(10)); // 100 Hz
        }

        // Thresholds are decided as each block is passed on: once all are delivered, no firing can still come from
        // them. The clock is moved well past every window's wait as well, so nothing timed is left to fire either.
        await Eventually.TrueAsync(() => env.Delivered == temperatures.Length, "every reading to be evaluated");
        _clock.Advance(TimeSpan.FromMinutes(1));
        await Eventually.TrueAsync(() => engine.Status()[0].Completed == 2, "two firings");
        Assert.Equal(2, engine.Status()[0].Fired);
        Assert.Equal(["threshold env.temperature = 31", "threshold env.temperature = 30.2"], Stored().Select(r => r.Event.Cause).Order(StringComparer.Ordinal).Reverse());
    }

    [Fact]
    public async Task A_below_threshold_fires_when_the_value_falls()
    {
        var env = new ManualSource("env", ["humidity"], sampleRate: 100, _clock);
        _host.Add(env, bufferMs: 100);
        var engine = Start(Trigger("dry", new TriggerWhen { Threshold = new ThresholdWhen { Sensor = "env", Channel = "humidity", Below = 20, Hysteresis = 5 } }, sensor: "env", preMs: 20));
        await Eventually.TrueAsync(() => _host.Status()[0].State == "ok", "sensor to open");
        float[] humidities = [30, 19, 22, 18, 26, 15];
        foreach (float h in humidities)
        {
            env.Push(h);
            _clock.Advance(TimeSpan.FromMilliseconds(10));
        }

        await Eventually.TrueAsync(() => env.Delivered == humidities.Length, "every reading to be evaluated");
        _clock.Advance(TimeSpan.FromMinutes(1));
        await Eventually.TrueAsync(() => engine.Status()[0].Completed == 2, "two firings");
        Assert.Equal(2, engine.Status()[0].Fired); // 19 fires, 18 is inside the band, 26 re-arms, 15 fires
        Assert.Equal([15f, 19f], Stored().Select(r => r.Y[^1]).Order()); // each window ends at its crossing
    }

    [Fact]
    public async Task A_run_that_fails_is_stored_with_its_error_and_the_pulse_follows_only_a_stored_success()
    {
        var (stream, button) = StreamAndButton(pin: 7, bufferMs: 200);
        var ok = Trigger("ok", new TriggerWhen { Gpio = "button" });
        ok.Actions = [new TriggerAction { Type = "gpio-pulse", Pin = 27, Ms = 10, Simulated = true }];
        var broken = Trigger("broken", new TriggerWhen { Gpio = "button" });
        broken.Run.Model = "not-loaded";
        broken.Actions = [new TriggerAction { Type = "gpio-pulse", Pin = 28, Ms = 10, Simulated = true }];
        var engine = Start(ok, broken);
        await Eventually.TrueAsync(() => _host.Status().All(s => s.State == "ok"), "sensors to open");
        PushMs(stream, -100, 0);
        await Eventually.TrueAsync(() => stream.Delivered == 1, "the samples to be buffered");
        button.InjectEdge(rising: true);

        await Eventually.TrueAsync(() => engine.Status().Sum(s => s.Completed + s.Failed) == 2, "both runs");
        await Eventually.TrueAsync(() => _chips.SimulatedDriver.Writes.Count(w => w.Pin == 27) == 2, "the pulse on pin 27 to start (opened low, high)");
        _clock.Advance(TimeSpan.FromMilliseconds(9));
        Assert.Equal(PinValue.High, _chips.SimulatedDriver.Writes.Last(w => w.Pin == 27).Value);
        _clock.Advance(TimeSpan.FromMilliseconds(1));
        await Eventually.TrueAsync(() => _chips.SimulatedDriver.Writes.Count(w => w.Pin == 27) == 3, "the pulse on pin 27 to end (low)");
        var pulse = _chips.SimulatedDriver.Writes.Where(w => w.Pin == 27).ToArray();
        Assert.Equal(10 * Ms, pulse[2].Timestamp - pulse[1].Timestamp); // high for exactly its 10 ms
        var stored = Stored();
        Assert.Equal(2, stored.Count);
        var failed = stored.Single(r => r.Event.Trigger == "broken").Event;
        Assert.Contains("not-loaded", failed.Error, StringComparison.Ordinal);
        Assert.Empty(failed.Outputs);
        Assert.Equal(1, engine.Status().Single(s => s.Name == "broken").Failed);
        Assert.DoesNotContain(_chips.SimulatedDriver.Writes, w => w.Pin == 28);
    }

    [Fact]
    public void A_trigger_naming_a_missing_sensor_or_an_unbuffered_window_is_refused_at_start()
    {
        _host.Add(new ManualSource("stream", ["v"], 1000, _clock), bufferMs: 0);
        var runner = new WindowModelRunner(_registry, _scheduler);
        var missing = Assert.Throws<ArgumentException>(() => new TriggerEngine([Trigger("t", new TriggerWhen { Gpio = "nope" })], _host, runner, _journal, _chips, _ => { }));
        Assert.Contains("bufferMs", missing.Message, StringComparison.Ordinal);
        var two = Trigger("t", new TriggerWhen { Gpio = "x", EverySeconds = 1 });
        Assert.Contains("exactly one", Assert.Throws<ArgumentException>(() => new TriggerEngine([two], _host, runner, _journal, _chips, _ => { })).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_schedule_fires_on_its_period()
    {
        var stream = new ManualSource("stream", ["v"], sampleRate: 1000, _clock);
        _host.Add(stream, bufferMs: 1000);
        var engine = Start(Trigger("tick", new TriggerWhen { EverySeconds = 0.1 }, preMs: 50));
        await Eventually.TrueAsync(() => _host.Status()[0].State == "ok", "sensor to open");
        PushMs(stream, -100, 400); // every tick's window is already sensed
        await Eventually.TrueAsync(() => stream.Delivered == 1, "the samples to be buffered");

        // The period runs from Start on the engine's clock: nothing before it, one firing per period after it.
        _clock.Advance(TimeSpan.FromMilliseconds(99));
        for (int tick = 1; tick <= 3; tick++)
        {
            Assert.Equal(tick - 1, engine.Status()[0].Fired);
            _clock.Advance(TimeSpan.FromMilliseconds(1));
            int expected = tick;
            await Eventually.TrueAsync(() => engine.Status()[0].Completed == expected, $"scheduled run {tick}");
            Assert.Equal(tick, engine.Status()[0].Fired);
            _clock.Advance(TimeSpan.FromMilliseconds(99));
        }

        Assert.All(Stored(), r => Assert.Equal("schedule", r.Event.Cause));
        Assert.All(Stored(), r => Assert.Null(r.Event.Error));
        Assert.Equal([100f, 200f, 300f], Stored().Select(r => r.Y[^1])); // each window ends at its tick
    }

    [Fact]
    public async Task Framed_runs_pad_a_short_block_to_a_whole_frame_and_stack_the_outputs()
    {
        var runner = new WindowModelRunner(_registry, _scheduler);
        var spec = new ModelRunSpec { Model = "echo", FrameSamples = 100 };
        float[] shortBlock = [.. Enumerable.Range(1, 30).Select(v => (float)v)];
        var output = await runner.RunAsync(spec, shortBlock, channels: 1, state: null, CancellationToken.None);
        Assert.Equal([1L, 1, 100], output.Outputs.Single().Shape);
        float[] y = MemoryMarshal.Cast<byte, float>(output.Payload.AsSpan(0, 400)).ToArray();
        Assert.All(y[..70], v => Assert.Equal(0f, v)); // zeros in front: the frame still ends at the newest sample
        Assert.Equal(shortBlock, y[70..]);

        // Frames end at the newest sample: 250 samples are a padded first frame of the oldest 50, then two whole ones.
        float[] twoAndAHalf = [.. Enumerable.Range(0, 250).Select(v => (float)v)];
        output = await runner.RunAsync(spec, twoAndAHalf, channels: 1, state: null, CancellationToken.None);
        Assert.Equal([3L, 1, 100], output.Outputs.Single().Shape);
        Assert.Equal(3, output.Frames);
        y = MemoryMarshal.Cast<byte, float>(output.Payload.AsSpan(0, 1200)).ToArray();
        Assert.All(y[..50], v => Assert.Equal(0f, v));
        Assert.Equal(twoAndAHalf, y[50..]);
    }

    [Fact]
    public async Task Stopping_lets_a_run_that_is_waiting_for_its_window_finish_and_store_its_result()
    {
        var (stream, button) = StreamAndButton(pin: 8, bufferMs: 1000);
        var engine = Start(Trigger("press", new TriggerWhen { Gpio = "button" }, preMs: 50, postMs: 300));
        await Eventually.TrueAsync(() => _host.Status().All(s => s.State == "ok"), "sensors to open");
        PushMs(stream, -100, 0);
        await Eventually.TrueAsync(() => stream.Delivered == 1, "the samples before the edge to be buffered");

        button.InjectEdge(rising: true);
        var stopping = engine.StopAsync(TimeSpan.FromSeconds(10)).AsTask(); // the run still needs 300 ms of samples
        _clock.Advance(TimeSpan.FromMilliseconds(300));
        PushMs(stream, 1, 300); // sensing goes on while the engine stops
        await stopping;
        Assert.Equal(1, engine.Status()[0].Completed);
        var stored = Assert.Single(Stored());
        Assert.Null(stored.Event.Error);
        // The whole window, 50 ms before the edge to the 300 ms after it that arrived while stopping.
        Assert.Equal(Enumerable.Range(-49, 350).Select(v => (float)v), stored.Y);

        button.InjectEdge(rising: true); // after stopping, nothing fires
        Assert.Equal(1, engine.Status()[0].Fired);
    }

    [Fact]
    public async Task A_model_output_with_nan_is_stored_and_its_summary_skips_the_nan()
    {
        var (stream, button) = StreamAndButton(pin: 9, bufferMs: 1000);
        var engine = Start(Trigger("press", new TriggerWhen { Gpio = "button" }, preMs: 100));
        await Eventually.TrueAsync(() => _host.Status().All(s => s.State == "ok"), "sensors to open");
        // Stamped from 200 ms before the edge (the clock stands still) to 100 ms after it.
        stream.Push(_t0 + (100 * Ms), [.. Enumerable.Range(0, 301).Select(i => i % 2 == 0 ? float.NaN : 2f)]);
        await Eventually.TrueAsync(() => stream.Delivered == 1, "the samples to be buffered");
        Assert.DoesNotContain(_host.Status()[0].LastReading, v => !double.IsFinite(v.Value));

        button.InjectEdge(rising: true);
        await Eventually.TrueAsync(() => engine.Status()[0].Completed + engine.Status()[0].Failed == 1, "the run");
        var stored = Assert.Single(Stored());
        Assert.Null(stored.Event.Error);
        Assert.Contains(stored.Y, float.IsNaN);
        Assert.Equal(100, stored.Y.Length); // the 100 ms up to and including the edge's own sample
        Assert.Equal(2.0, stored.Event.Summary.Single().Value);
    }
}
