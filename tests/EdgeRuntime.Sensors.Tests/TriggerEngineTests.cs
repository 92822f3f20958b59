using System.Diagnostics;
using System.Runtime.InteropServices;
using EdgeRuntime.Inference;
using EdgeRuntime.Onnx;
using EdgeRuntime.Protocol;
using EdgeRuntime.Sensors.Gpio;
using EdgeRuntime.Store;
using EdgeRuntime.Triggers;

namespace EdgeRuntime.Sensors.Tests;

/// <summary>
/// The trigger engine with real parts: sensors on the simulated GPIO chip and hand-driven streams, ONNX Runtime
/// running a model through the registry and scheduler, and the journal on disk.
/// </summary>
public sealed class TriggerEngineTests : IAsyncLifetime
{
    private static readonly long Ms = Stopwatch.Frequency / 1000;
    private readonly string _dir = Directory.CreateTempSubdirectory("triggers-").FullName;
    private ModelRegistry _registry = null!;
    private InferenceScheduler _scheduler = null!;
    private ResultJournal _journal = null!;
    private readonly GpioChips _chips = new(null);
    private readonly SensorHost _host = new(_ => { });
    private readonly List<string> _log = [];
    private TriggerEngine? _engine;

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

    private TriggerEngine StartWith(Func<string, string, CancellationToken, Task>? runPipeline, params TriggerConfig[] triggers)
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
        var stream = new ManualSource("stream", ["v"], sampleRate: 1000);
        var button = new GpioEdgeSource(new SensorConfig { Name = "button", Type = "gpio", Pin = pin, DebounceMs = debounceMs, Simulated = true }, _chips);
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
        var (stream, button) = StreamAndButton(pin: 5, bufferMs: 30_000);
        var engine = Start(Trigger("press", new TriggerWhen { Gpio = "button" }, preMs: 50, postMs: 20));
        await Eventually.TrueAsync(() => _host.Status().All(s => s.State == "ok"), "sensors to open");

        // 1 kHz samples whose value is their time in ms relative to "now", from 300 ms before to almost 30 s after:
        // the ring takes the timestamps it is given, so the edge falls inside one unbroken stream (with its 20 ms
        // after) however long a loaded machine takes to buffer them and inject it.
        long now = Stopwatch.GetTimestamp();
        stream.Push(now + (29_699 * Ms), [.. Enumerable.Range(-300, 30_000).Select(v => (float)v)]);
        await Eventually.TrueAsync(() => _host.Status()[0].Readings == 30_000, "the samples to be buffered");
        // The edge is stamped inside InjectEdge, so its time lies between these two readings whatever preempts us.
        double before = (Stopwatch.GetTimestamp() - now) / (double)Ms;
        button.InjectEdge(rising: true);
        double after = (Stopwatch.GetTimestamp() - now) / (double)Ms;
        await Eventually.TrueAsync(() => engine.Status()[0].Completed == 1, "the triggered run to be stored");
        var (result, y) = Assert.Single(Stored());
        Assert.Null(result.Error);
        Assert.Equal("press", result.Trigger);
        Assert.Equal("gpio button rising", result.Cause);
        Assert.InRange(result.Window!.StartOffsetMs, -51, -49);
        // Every sample from 50 ms before the edge to 20 ms after it, in order and nothing else.
        Assert.InRange(y.Length, 69, 72);
        Assert.Equal(y.Length, result.Window.Samples);
        Assert.All(y.Zip(y.Skip(1)), p => Assert.Equal(p.First + 1, p.Second));
        Assert.InRange(y[0], before - 52, after - 49);
        Assert.InRange(y[^1], before + 18, after + 21);
        Assert.Equal(y.Max(), result.Summary.Single().Value);
    }

    [Fact]
    public async Task A_trigger_can_run_a_pipeline_instead_of_a_model_and_counts_its_outcome()
    {
        var (_, button) = StreamAndButton(pin: 9, bufferMs: 500);
        var calls = new List<(string Pipeline, string Cause)>();
        int run = 0;
        var engine = StartWith(
            (pipeline, cause, _) =>
            {
                lock (calls)
                {
                    calls.Add((pipeline, cause));
                }

                // The second run fails, as a pipeline whose input file went missing would.
                return Interlocked.Increment(ref run) == 2 ? Task.FromException(new IOException("gone")) : Task.CompletedTask;
            },
            new TriggerConfig { Name = "look", On = new TriggerWhen { Gpio = "button" }, Pipeline = "digits" });
        await Eventually.TrueAsync(() => _host.Status().All(s => s.State == "ok"), "sensors to open");

        button.InjectEdge(rising: true);
        await Eventually.TrueAsync(() => engine.Status()[0].Completed == 1, "the first pipeline run");
        button.InjectEdge(rising: false);
        button.InjectEdge(rising: true);
        await Eventually.TrueAsync(() => engine.Status()[0].Failed == 1, "the second, failing run");

        lock (calls)
        {
            Assert.Equal(["digits", "digits"], calls.Select(c => c.Pipeline));
            Assert.StartsWith("trigger look: gpio button", calls[0].Cause, StringComparison.Ordinal);
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
        var error = Assert.Throws<ArgumentException>(() => StartWith((_, _, _) => Task.CompletedTask, both));
        Assert.Contains("no \"run\"", error.Message);
    }

    [Fact]
    public async Task Hold_off_ignores_firings_that_follow_too_soon_and_counts_them()
    {
        var (stream, button) = StreamAndButton(pin: 6, bufferMs: 200, debounceMs: 1);
        var engine = Start(Trigger("press", new TriggerWhen { Gpio = "button", HoldOffMs = 2000 }));
        await Eventually.TrueAsync(() => _host.Status().All(s => s.State == "ok"), "sensors to open");
        using var stop = new CancellationTokenSource();
        var feeding = stream.FeedAsync(stop.Token);

        for (int i = 0; i < 5; i++)
        {
            button.InjectEdge(rising: true);
            await Task.Delay(20); // past the 1 ms debounce, well within the 2 s hold-off even on a loaded machine
        }

        await Task.Delay(2100);
        button.InjectEdge(rising: true);
        await Eventually.TrueAsync(() => engine.Status()[0].Completed == 2, "two runs");
        var status = engine.Status()[0];
        Assert.Equal(2, status.Fired);
        Assert.Equal(4, status.HeldOff);
        Assert.Equal(2, Stored().Count);
        await stop.CancelAsync();
        await feeding;
    }

    [Fact]
    public async Task A_threshold_fires_on_the_crossing_and_rearms_only_past_the_hysteresis_band()
    {
        var env = new ManualSource("env", ["temperature", "humidity"], sampleRate: 100);
        _host.Add(env, bufferMs: 100);
        var engine = Start(Trigger("hot", new TriggerWhen { Threshold = new ThresholdWhen { Sensor = "env", Channel = "temperature", Above = 30, Hysteresis = 1 } }, sensor: "env", preMs: 20));
        await Eventually.TrueAsync(() => _host.Status()[0].State == "ok", "sensor to open");

        // Crosses at 31; the wobble around 30 stays inside the band; 28.9 re-arms; 30.2 fires again.
        float[] temperatures = [29, 31, 30.5f, 29.5f, 31.5f, 30, 28.9f, 29.9f, 30.2f, 40];
        foreach (float t in temperatures)
        {
            env.Push(t, 50);
        }

        await Eventually.TrueAsync(() => engine.Status()[0].Completed == 2, "two firings");
        await Task.Delay(100);
        Assert.Equal(2, engine.Status()[0].Fired);
        Assert.Equal(["threshold env.temperature = 31", "threshold env.temperature = 30.2"], Stored().Select(r => r.Event.Cause).Order(StringComparer.Ordinal).Reverse());
    }

    [Fact]
    public async Task A_below_threshold_fires_when_the_value_falls()
    {
        var env = new ManualSource("env", ["humidity"], sampleRate: 100);
        _host.Add(env, bufferMs: 100);
        var engine = Start(Trigger("dry", new TriggerWhen { Threshold = new ThresholdWhen { Sensor = "env", Channel = "humidity", Below = 20, Hysteresis = 5 } }, sensor: "env", preMs: 20));
        await Eventually.TrueAsync(() => _host.Status()[0].State == "ok", "sensor to open");
        foreach (float h in new float[] { 30, 19, 22, 18, 26, 15 })
        {
            env.Push(h);
        }

        await Eventually.TrueAsync(() => engine.Status()[0].Completed == 2, "two firings");
        Assert.Equal(2, engine.Status()[0].Fired);
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
        using var stop = new CancellationTokenSource();
        var feeding = stream.FeedAsync(stop.Token);
        await Eventually.TrueAsync(() => _host.Status()[0].Readings >= 100, "the samples to be buffered");
        button.InjectEdge(rising: true);

        await Eventually.TrueAsync(() => engine.Status().Sum(s => s.Completed + s.Failed) == 2, "both runs");
        await Eventually.TrueAsync(() => _chips.SimulatedDriver.Writes.Count(w => w.Pin == 27) == 3, "the pulse on pin 27 (opened low, high, low)");
        var stored = Stored();
        Assert.Equal(2, stored.Count);
        var failed = stored.Single(r => r.Event.Trigger == "broken").Event;
        Assert.Contains("not-loaded", failed.Error, StringComparison.Ordinal);
        Assert.Empty(failed.Outputs);
        Assert.Equal(1, engine.Status().Single(s => s.Name == "broken").Failed);
        Assert.DoesNotContain(_chips.SimulatedDriver.Writes, w => w.Pin == 28);
        await stop.CancelAsync();
        await feeding;
    }

    [Fact]
    public void A_trigger_naming_a_missing_sensor_or_an_unbuffered_window_is_refused_at_start()
    {
        _host.Add(new ManualSource("stream", ["v"], 1000), bufferMs: 0);
        var runner = new WindowModelRunner(_registry, _scheduler);
        var missing = Assert.Throws<ArgumentException>(() => new TriggerEngine([Trigger("t", new TriggerWhen { Gpio = "nope" })], _host, runner, _journal, _chips, _ => { }));
        Assert.Contains("bufferMs", missing.Message, StringComparison.Ordinal);
        var two = Trigger("t", new TriggerWhen { Gpio = "x", EverySeconds = 1 });
        Assert.Contains("exactly one", Assert.Throws<ArgumentException>(() => new TriggerEngine([two], _host, runner, _journal, _chips, _ => { })).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_schedule_fires_on_its_period()
    {
        var stream = new ManualSource("stream", ["v"], sampleRate: 1000);
        _host.Add(stream, bufferMs: 1000);
        // Feeding starts before the engine, so even the first tick has samples behind it; a 500 ms window (not 50)
        // outlasts the stalls a loaded machine gives the feeder's 10 ms timer, so no tick finds its window empty.
        using var stop = new CancellationTokenSource();
        var feeding = stream.FeedAsync(stop.Token);
        var engine = Start(Trigger("tick", new TriggerWhen { EverySeconds = 0.1 }, preMs: 500));
        await Eventually.TrueAsync(() => engine.Status()[0].Completed >= 3, "three scheduled runs");
        Assert.All(Stored(), r => Assert.Equal("schedule", r.Event.Cause));
        Assert.All(Stored(), r => Assert.Null(r.Event.Error));
        await stop.CancelAsync();
        await feeding;
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
        using var stop = new CancellationTokenSource();
        var feeding = stream.FeedAsync(stop.Token);
        await Eventually.TrueAsync(() => _host.Status().All(s => s.State == "ok") && _host.Status()[0].Readings > 50, "sensors to run");

        button.InjectEdge(rising: true);
        await engine.StopAsync(TimeSpan.FromSeconds(10)); // the run still needs 300 ms of post-trigger samples
        Assert.Equal(1, engine.Status()[0].Completed);
        var stored = Assert.Single(Stored());
        Assert.Null(stored.Event.Error);
        // The 50 ms before the edge hold at most 60 samples (10 per push); more means the run waited for post-trigger
        // samples. How many more depends on the feeder's timer ticks (10 samples per 10 ms tick, fewer on a loaded
        // machine), so only the bounds are checked.
        Assert.InRange(stored.Y.Length, 61, 400);

        button.InjectEdge(rising: true); // after stopping, nothing fires
        Assert.Equal(1, engine.Status()[0].Fired);
        await stop.CancelAsync();
        await feeding;
    }

    [Fact]
    public async Task A_model_output_with_nan_is_stored_and_its_summary_skips_the_nan()
    {
        var (stream, button) = StreamAndButton(pin: 9, bufferMs: 30_000);
        var engine = Start(Trigger("press", new TriggerWhen { Gpio = "button" }, preMs: 100));
        await Eventually.TrueAsync(() => _host.Status().All(s => s.State == "ok"), "sensors to open");
        // Stamped from 200 ms ago to almost 30 s ahead, so the edge's window is already sensed however late it comes.
        long now = Stopwatch.GetTimestamp();
        stream.Push(now + (29_799 * Ms), [.. Enumerable.Range(0, 30_000).Select(i => i % 2 == 0 ? float.NaN : 2f)]);
        await Eventually.TrueAsync(() => _host.Status()[0].Readings == 30_000, "the samples to be buffered");
        Assert.DoesNotContain(_host.Status()[0].LastReading, v => !double.IsFinite(v.Value));

        button.InjectEdge(rising: true);
        await Eventually.TrueAsync(() => engine.Status()[0].Completed + engine.Status()[0].Failed == 1, "the run");
        var stored = Assert.Single(Stored());
        Assert.Null(stored.Event.Error);
        Assert.Contains(stored.Y, float.IsNaN);
        Assert.Equal(2.0, stored.Event.Summary.Single().Value);
    }
}
