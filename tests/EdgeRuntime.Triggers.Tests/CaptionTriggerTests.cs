using System.Device.Gpio;
using EdgeRuntime.Inference;
using EdgeRuntime.Protocol;
using EdgeRuntime.Sensors;
using EdgeRuntime.Sensors.Gpio;
using EdgeRuntime.Sensors.Replay;
using EdgeRuntime.Store;
using Microsoft.Extensions.Time.Testing;

namespace EdgeRuntime.Triggers.Tests;

/// <summary>
/// Caption triggers: a button fires, the camera's frame (a replayed folder of PGM files, or a hand-driven camera) goes
/// to a fake vision-language model, and the caption is stored in the journal. Time is a fake clock shared by the
/// sensors, the engine and the simulated GPIO chip, as in <see cref="TriggerEngineTests"/>.
/// </summary>
public sealed class CaptionTriggerTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _clock = new();
    private readonly long _t0;
    private readonly TempFolder _dir = new("caption-triggers-");
    private readonly ModelRegistry _registry;
    private readonly InferenceScheduler _scheduler;
    private readonly ResultJournal _journal;
    private readonly GpioChips _chips;
    private readonly SensorHost _host;
    private TriggerEngine? _engine;

    public CaptionTriggerTests()
    {
        _chips = new GpioChips(null, timeProvider: _clock);
        _host = new SensorHost(_ => { }, _clock);
        _t0 = _clock.GetTimestamp();
        // Caption triggers never use the tensor-model runner; the engine still takes one for "run" triggers.
        var options = new InferenceOptions { IntraOpThreads = 1, Workers = 1 };
        _registry = new ModelRegistry(_dir.Path, options);
        _scheduler = new InferenceScheduler(options);
        _journal = ResultJournal.Open(new JournalOptions(_dir.File("results")));
    }

    public Task InitializeAsync() => Task.CompletedTask;

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
        _dir.Dispose();
    }

    private long Ms => _clock.TimestampFrequency / 1000;

    private TriggerEngine NewEngine(IFrameCaptioner? captioner, params TriggerConfig[] triggers) =>
        new(triggers, _host, new WindowModelRunner(_registry, _scheduler), _journal, _chips, _ => { }, captioner: captioner);

    private TriggerEngine Start(IFrameCaptioner captioner, params TriggerConfig[] triggers)
    {
        _engine = NewEngine(captioner, triggers);
        _host.AddListener(_engine);
        _engine.Start();
        _host.Start();
        return _engine;
    }

    private GpioEdgeSource Button(int pin)
    {
        var button = new GpioEdgeSource(new SensorConfig { Name = "door", Type = "gpio", Pin = pin, DebounceMs = 0, Simulated = true }, _chips) { TimeProvider = _clock };
        _host.Add(button, 0);
        return button;
    }

    private static TriggerConfig DoorCamera(string sensor = "camera", int maxTokens = 12) => new()
    {
        Name = "door-camera",
        On = new TriggerWhen { Gpio = "door" },
        Caption = new TriggerCaption { Model = "vlm-fashion", Sensor = sensor, MaxTokens = maxTokens },
    };

    /// <summary>An 8-bit binary PGM, as the images sensor reads it.</summary>
    private static void WritePgm(string path, int width, int height, byte[] pixels)
    {
        using var file = File.Create(path);
        file.Write(System.Text.Encoding.ASCII.GetBytes($"P5\n{width} {height}\n255\n"));
        file.Write(pixels);
    }

    private List<ResultEvent> Stored()
    {
        using var reader = _journal.OpenReader(0);
        var results = new List<ResultEvent>();
        while (reader.TryRead(out var record))
        {
            Assert.Empty(record.Payload.ToArray()); // a caption stores no tensors
            results.Add(ProtocolJson.Deserialize(record.Json, ProtocolJsonContext.Default.ResultEvent));
        }

        return results;
    }

    [Fact]
    public async Task A_fired_trigger_captions_the_replayed_cameras_newest_frame_and_stores_the_text()
    {
        // Three 4×3 frames (not square, so rows and columns cannot be swapped unnoticed) with distinct grey levels.
        string frames = Directory.CreateDirectory(_dir.File("frames")).FullName;
        byte[][] pictures = [.. Enumerable.Range(0, 3).Select(f => Enumerable.Range(0, 12).Select(i => (byte)((f * 80) + (i * 7))).ToArray())];
        for (int f = 0; f < pictures.Length; f++)
        {
            WritePgm(Path.Combine(frames, $"{f:000}.pgm"), width: 4, height: 3, pictures[f]);
        }

        var camera = new ImageSequenceSource(new SensorConfig { Name = "camera", Type = "images", SampleHz = 10, Realtime = false }, frames) { TimeProvider = _clock };
        _host.Add(camera, bufferMs: 1000);
        var button = Button(pin: 11);
        var captioner = new FakeCaptioner();
        var trigger = DoorCamera();
        trigger.Actions = [new TriggerAction { Type = "gpio-pulse", Pin = 27, Ms = 10, Simulated = true }];
        var engine = Start(captioner, trigger);
        // Unpaced, the replay delivers every frame at once (stamped now, as the edge will be) and then stops.
        await Eventually.TrueAsync(() => _host.Status().Single(s => s.Name == "camera").Readings == 3, "the frames to be buffered");
        await Eventually.TrueAsync(() => _host.Status().Single(s => s.Name == "door").State == "ok", "the button to open");

        button.InjectEdge(rising: true);
        await Eventually.TrueAsync(() => engine.Status()[0].Completed == 1, "the caption to be stored");

        var call = Assert.Single(captioner.Calls);
        Assert.Equal(("vlm-fashion", 3, 4, 12), (call.Model, call.Height, call.Width, call.MaxTokens));
        // The newest frame's pixels, row by row, as the 0..255 levels the file holds.
        Assert.Equal(pictures[2].Select(b => (float)b), call.Frame);
        Assert.Equal([160f, 167f, 174f, 181f], call.Frame[..4]); // the first row
        Assert.Equal(237f, call.Frame[^1]);                      // the last pixel of the last row

        var result = Assert.Single(Stored());
        Assert.Null(result.Error);
        Assert.Equal(("door-camera", "gpio door rising", "vlm-fashion"), (result.Trigger, result.Cause, result.Model));
        Assert.Equal(new CaptionResult("a dark sneaker", 4, 12.5, 40), result.Caption);
        Assert.Empty(result.Outputs);
        Assert.Equal(new CaptureWindow("camera", 0, 100, 1, 12), result.Window);
        Assert.Equal(40_000, result.Timing.InferenceUs);
        // The action follows the stored caption.
        await Eventually.TrueAsync(() => _chips.SimulatedDriver.Writes.Any(w => w.Pin == 27 && w.Value == PinValue.High), "the pulse on pin 27");
    }

    [Fact]
    public async Task The_caption_waits_for_a_frame_taken_after_the_firing_rather_than_use_an_older_one()
    {
        var camera = new ManualCamera("camera", width: 2, height: 2, sampleHz: 10);
        _host.Add(camera, bufferMs: 1000);
        var button = Button(pin: 12);
        var captioner = new FakeCaptioner();
        var engine = Start(captioner, DoorCamera());
        await Eventually.TrueAsync(() => _host.Status().All(s => s.State == "ok"), "sensors to open");
        camera.Push(_t0 - (50 * Ms), 0, 0, 0, 0); // before the press: never the one captioned
        await Eventually.TrueAsync(() => camera.Delivered == 1, "the old frame to be buffered");

        button.InjectEdge(rising: true); // at t0: the clock stands still until the test moves it
        _clock.Advance(TimeSpan.FromMilliseconds(100));
        camera.Push(_t0 + (100 * Ms), 1, 0.5f, 0.2f, 0);
        await Eventually.TrueAsync(() => engine.Status()[0].Completed + engine.Status()[0].Failed == 1, "the run");

        var call = Assert.Single(captioner.Calls);
        Assert.Equal([255f, 128f, 51f, 0f], call.Frame); // 0.5 × 255 = 127.5 rounds to 128
        var result = Assert.Single(Stored());
        Assert.Null(result.Error);
        Assert.Equal(100, result.Window!.StartOffsetMs); // taken 100 ms after the press
        Assert.Equal(100_000, result.Timing.CaptureUs);
    }

    [Fact]
    public async Task A_camera_that_sends_no_frame_after_the_firing_stores_an_error_instead_of_an_old_picture()
    {
        var camera = new ManualCamera("camera", width: 2, height: 2, sampleHz: 10);
        _host.Add(camera, bufferMs: 1000);
        var button = Button(pin: 13);
        var captioner = new FakeCaptioner();
        var engine = Start(captioner, DoorCamera());
        await Eventually.TrueAsync(() => _host.Status().All(s => s.State == "ok"), "sensors to open");
        camera.Push(_t0 - (50 * Ms), 0, 0, 0, 0);
        await Eventually.TrueAsync(() => camera.Delivered == 1, "the old frame to be buffered");

        button.InjectEdge(rising: true);
        // One frame period (100 ms) and a second of slack, counted from the firing however late the run starts waiting.
        _clock.Advance(TimeSpan.FromMilliseconds(1100));
        await Eventually.TrueAsync(() => engine.Status()[0].Failed == 1, "the run to give up");

        Assert.Empty(captioner.Calls);
        var result = Assert.Single(Stored());
        Assert.Null(result.Caption);
        Assert.Null(result.Window);
        Assert.Equal("vlm-fashion", result.Model);
        Assert.Contains("camera 'camera' delivered no frame within 1100 ms", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_captioner_that_throws_stores_the_result_with_its_error_and_no_action_follows()
    {
        var camera = new ManualCamera("camera", width: 2, height: 2, sampleHz: 10);
        _host.Add(camera, bufferMs: 1000);
        var button = Button(pin: 14);
        var captioner = new FakeCaptioner { Failure = new EdgeRuntimeException(ErrorCodes.UnknownModel, "Model 'vlm-fashion' is not loaded.") };
        var trigger = DoorCamera();
        trigger.Actions = [new TriggerAction { Type = "gpio-pulse", Pin = 28, Ms = 10, Simulated = true }];
        var engine = Start(captioner, trigger);
        await Eventually.TrueAsync(() => _host.Status().All(s => s.State == "ok"), "sensors to open");
        camera.Push(_t0, 1, 1, 1, 1);
        await Eventually.TrueAsync(() => camera.Delivered == 1, "the frame to be buffered");

        button.InjectEdge(rising: true);
        await Eventually.TrueAsync(() => engine.Status()[0].Failed == 1, "the failed run to be stored");

        Assert.Single(captioner.Calls);
        var result = Assert.Single(Stored());
        Assert.Equal("Model 'vlm-fashion' is not loaded.", result.Error);
        Assert.Null(result.Caption);
        Assert.Equal("vlm-fashion", result.Model);
        Assert.Equal("camera", result.Window!.Sensor); // the frame was taken; the model failed
        Assert.Equal(0, engine.Status()[0].Completed);
        Assert.DoesNotContain(_chips.SimulatedDriver.Writes, w => w.Pin == 28);
    }

    [Fact]
    public void Colour_frames_reach_the_captioner_as_bt601_grey()
    {
        var camera = new ManualCamera("camera", width: 2, height: 2, sampleHz: 10, colours: 3);
        float[] grey = CameraFrame.ToGrey255([1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1], camera);
        Assert.Equal([76f, 150f, 29f, 255f], grey); // 0.299, 0.587, 0.114 and their sum, × 255, rounded
    }

    [Fact]
    public void A_caption_from_a_sensor_that_is_not_a_buffered_camera_is_refused_at_start_naming_trigger_and_field()
    {
        Button(pin: 15);
        File.WriteAllText(_dir.File("env.csv"), "temperature\n20\n21\n");
        _host.Add(new SeriesReplaySource(new SensorConfig { Name = "env", Type = "series", SampleHz = 10 }, _dir.File("env.csv")) { TimeProvider = _clock }, bufferMs: 1000);
        _host.Add(new ManualCamera("unbuffered", 2, 2, sampleHz: 10), bufferMs: 0);
        var captioner = new FakeCaptioner();

        string notCamera = Assert.Throws<ArgumentException>(() => NewEngine(captioner, DoorCamera("env"))).Message;
        Assert.Equal("Trigger 'door-camera': caption.sensor 'env' is a series sensor, not a camera (v4l2 or images).", notCamera);
        string missing = Assert.Throws<ArgumentException>(() => NewEngine(captioner, DoorCamera("nosuch"))).Message;
        Assert.Equal("Trigger 'door-camera': caption.sensor 'nosuch' is not a configured sensor.", missing);
        string unbuffered = Assert.Throws<ArgumentException>(() => NewEngine(captioner, DoorCamera("unbuffered"))).Message;
        Assert.Contains("camera 'unbuffered' keeps no buffer; give it \"bufferMs\" (one frame, 100 ms, is enough)", unbuffered, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_caption_trigger_is_refused_with_run_or_pipeline_a_min_score_no_tokens_or_no_captioner()
    {
        Button(pin: 16);
        _host.Add(new ManualCamera("camera", 2, 2, sampleHz: 10), bufferMs: 1000);
        var captioner = new FakeCaptioner();

        var withRun = DoorCamera();
        withRun.Run = new TriggerRun { Model = "echo", Window = new CaptureWindowConfig { Sensor = "camera", PreMs = 100 } };
        Assert.Contains("give \"run\" or \"caption\", not both", Assert.Throws<ArgumentException>(() => NewEngine(captioner, withRun)).Message, StringComparison.Ordinal);
        var withPipeline = DoorCamera();
        withPipeline.Pipeline = "digits";
        Assert.Contains("no \"caption\"", Assert.Throws<ArgumentException>(() => NewEngine(captioner, withPipeline)).Message, StringComparison.Ordinal);
        var scored = DoorCamera();
        scored.Actions = [new TriggerAction { Type = "gpio-pulse", Pin = 27, MinScore = 0.5 }];
        Assert.Contains("no \"minScore\"", Assert.Throws<ArgumentException>(() => NewEngine(captioner, scored)).Message, StringComparison.Ordinal);
        Assert.Contains("caption.maxTokens must be at least 1", Assert.Throws<ArgumentException>(() => NewEngine(captioner, DoorCamera(maxTokens: 0))).Message, StringComparison.Ordinal);
        Assert.Contains("given no captioner", Assert.Throws<ArgumentException>(() => NewEngine(null, DoorCamera())).Message, StringComparison.Ordinal);

        // And the same trigger with a captioner is accepted.
        await using var accepted = NewEngine(captioner, DoorCamera());
        Assert.Equal("gpio door", accepted.Status().Single().When);
    }
}
