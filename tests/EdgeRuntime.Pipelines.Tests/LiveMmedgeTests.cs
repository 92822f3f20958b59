using System.Buffers.Binary;
using EdgeRuntime.Formats;
using EdgeRuntime.Inference.Providers;
using EdgeRuntime.Pipelines.Mmedge;
using EdgeRuntime.Protocol;
using EdgeRuntime.Sensors;
using EdgeRuntime.Store;

namespace EdgeRuntime.Pipelines.Tests;

/// <summary>MMEdge on live sensors: replayed microphones and cameras read as they deliver, against the same recordings given as files.</summary>
[Collection("mmedge")]
public sealed class LiveMmedgeTests(MmedgeFixture fixture) : IClassFixture<MmedgeFixture>
{
    private static PipelineDefinition Definition(string audio = "mic", string vision = "cam") =>
        new("live", "mmedge", "mmedge.json")
        {
            Inputs = new() { ["audio"] = PipelineInput.FromSensor(audio), ["vision"] = PipelineInput.FromSensor(vision) },
            Configuration = MmedgeFixture.Reference,
        };

    private static string Wav(int episode) => Path.Combine(MmedgeFixture.Episodes, $"{episode:0000}.wav");

    private Task<MmedgePipeline> LoadAsync(LiveRig rig, PipelineDefinition? definition = null) =>
        MmedgePipeline.LoadAsync(definition ?? Definition(), MmedgeFixture.ManifestPath, fixture.Invoker, [ProviderNames.Cpu], CancellationToken.None, rig.Sensors);

    private Task<PipelineResult> FromFilesAsync(string wav, string frames, bool skip) =>
        fixture.Pipeline.RunAsync(new MmedgeRunOptions(wav, frames, new FastClock()) { Skip = skip, Configuration = MmedgeFixture.Reference }, CancellationToken.None);

    /// <summary>Asked for before the sensors start, so the run's first unit is each recording's first sample.</summary>
    private static async Task<PipelineResult> FromSensorsAsync(MmedgePipeline pipeline, LiveRig rig, bool skip)
    {
        var run = pipeline.RunAsync(new PipelineRunRequest("live") { Skip = skip }, rig.Folder, CancellationToken.None);
        rig.Start();
        return await run;
    }

    private static (string, int, string)[] Encoded(PipelineResult result) =>
        [.. result.Units.Where(u => u.State == "encoded").Select(u => (u.Modality, u.Index, u.State))];

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_recording_read_live_gives_the_same_units_and_answers_as_the_recording_given_as_files(bool skip)
    {
        for (int episode = 0; episode < 4; episode++)
        {
            await using var rig = new LiveRig();
            string frames = rig.FramesOf(episode);
            rig.AddMicrophone("mic", Wav(episode));
            rig.AddCamera("cam", frames);
            var pipeline = await LoadAsync(rig);

            var live = await FromSensorsAsync(pipeline, rig, skip);
            var files = await FromFilesAsync(Wav(episode), frames, skip);

            Assert.Equal(files.Prediction, live.Prediction);
            Assert.Equal(files.Scores, live.Scores);
            Assert.Equal(Encoded(files), Encoded(live));
            Assert.Equal(files.Checkpoints.Select(c => (c.Units, c.SkipProbability, c.Skipped)), live.Checkpoints.Select(c => (c.Units, c.SkipProbability, c.Skipped)));
            Assert.Equal(["audio", "vision"], live.Live.Select(l => l.Input));
            Assert.Equal(["mic", "cam"], live.Live.Select(l => l.Sensor));

            // Units were sensed at the recording's pace: the last audio unit about a second in, the last frame about half.
            double lastAudio = live.Units.Where(u => u.Modality == "audio" && u.State == "encoded").Max(u => u.SensedMs);
            double lastFrame = live.Units.Where(u => u.Modality == "vision").Max(u => u.SensedMs);
            Assert.InRange(lastFrame, 450, 900);
            if (!live.Checkpoints.Any(c => c.Skipped))
            {
                Assert.InRange(lastAudio, 950, 1500);
            }
        }
    }

    [Fact]
    public async Task A_faster_microphone_is_resampled_sample_for_sample_as_a_file_is()
    {
        await using var rig = new LiveRig();
        // 11025 Hz: a rate the encoder's 8000 Hz does not divide, so every output sample interpolates between two.
        string wav11k = Path.Combine(rig.Folder, "11k.wav");
        WriteWav(wav11k, WavAudio.Read(Wav(3)).Resample(11025));
        string frames = rig.FramesOf(3);
        rig.AddMicrophone("mic", wav11k, rate: 11025);
        rig.AddCamera("cam", frames);
        var pipeline = await LoadAsync(rig);

        var live = await FromSensorsAsync(pipeline, rig, skip: false);
        var files = await FromFilesAsync(wav11k, frames, skip: false);
        Assert.Equal(files.Scores, live.Scores);
        Assert.Equal(11025, live.Live[0].SensorRate);
    }

    [Fact]
    public async Task A_bigger_camera_frame_is_shrunk_to_the_encoders_size_by_box_averages()
    {
        await using var rig = new LiveRig();
        rig.AddMicrophone("mic", Wav(5));
        rig.AddCamera("cam", rig.FramesOf(5, scale: 4));
        var pipeline = await LoadAsync(rig);

        // Each 32×32 frame repeats every pixel 4×4 times, so its box averages are the 8×8 frame exactly.
        var live = await FromSensorsAsync(pipeline, rig, skip: false);
        var files = await FromFilesAsync(Wav(5), rig.FramesOf(5), skip: false);
        Assert.Equal(files.Scores, live.Scores);
    }

    [Fact]
    public async Task Sensors_that_cannot_feed_the_encoders_are_refused_at_load_naming_both()
    {
        await using var rig = new LiveRig();
        rig.AddMicrophone("mic", Wav(0));
        rig.AddMicrophone("slow-mic", Wav(0), rate: 4000);
        rig.AddCamera("cam", rig.FramesOf(0));
        rig.AddCamera("slow-cam", rig.FramesOf(0), hz: 2);
        var host = new PipelineHost(fixture.Invoker, rig.Folder, null, _ => { }, rig.Sensors);

        async Task<string> Refused(PipelineDefinition definition)
        {
            var e = await Assert.ThrowsAsync<EdgeRuntimeException>(() => host.LoadAsync(definition, CancellationToken.None));
            Assert.Equal(ErrorCodes.BadRequest, e.Code);
            return e.Message;
        }

        string camAsAudio = await Refused(Definition(audio: "cam"));
        Assert.Contains("sensor 'cam' is a images sensor delivering 8x8 grey frames at 16/s", camAsAudio, StringComparison.Ordinal);
        Assert.Contains("8000 Hz", camAsAudio, StringComparison.Ordinal);

        string slowMic = await Refused(Definition(audio: "slow-mic"));
        Assert.Contains("captures at 4000 Hz; the audio encoder takes 8000 Hz", slowMic, StringComparison.Ordinal);

        string slowCam = await Refused(Definition(vision: "slow-cam"));
        Assert.Contains("takes 2 frames/s; the vision encoder takes a frame every 62.5 ms (16 frames/s)", slowCam, StringComparison.Ordinal);

        string micAsVision = await Refused(Definition(vision: "mic"));
        Assert.Contains("sensor 'mic' is a wav sensor delivering 1 channel(s) at 8000 Hz; the vision encoder takes 8x8 camera frames", micAsVision, StringComparison.Ordinal);

        string missing = await Refused(Definition(audio: "nosuch"));
        Assert.Contains("there is no sensor 'nosuch'; the daemon's sensors are: mic, slow-mic, cam, slow-cam", missing, StringComparison.Ordinal);

        // The checks are for sensor inputs only: a pipeline of files loads beside them.
        var files = await new PipelineHost(fixture.Invoker, rig.Folder, null, _ => { }, rig.Sensors).LoadAsync(
            new PipelineDefinition("files", "mmedge", "mmedge.json") { Inputs = new() { ["audio"] = PipelineInput.FromPath(Wav(0)), ["vision"] = PipelineInput.FromPath(Path.Combine(MmedgeFixture.Episodes, "0000.npy")) } },
            CancellationToken.None);
        Assert.Equal("files", files.Name);
    }

    [Fact]
    public async Task A_run_asked_with_the_wrong_live_options_is_a_bad_request()
    {
        await using var rig = new LiveRig();
        rig.AddMicrophone("mic", Wav(0), bufferMs: 500);
        rig.AddCamera("cam", rig.FramesOf(0), bufferMs: 500);
        var pipeline = await LoadAsync(rig);
        var files = new Dictionary<string, PipelineInput> { ["vision"] = PipelineInput.FromPath(Path.Combine(MmedgeFixture.Episodes, "0000.npy")) };

        async Task<string> Refused(PipelineRunRequest request)
        {
            var e = await Assert.ThrowsAsync<EdgeRuntimeException>(() => pipeline.RunAsync(request, rig.Folder, CancellationToken.None));
            Assert.Equal(ErrorCodes.BadRequest, e.Code);
            return e.Message;
        }

        Assert.Contains("'vision' is the file", await Refused(new PipelineRunRequest("live") { Live = true, Inputs = files }), StringComparison.Ordinal);
        Assert.Contains("clock 'fast' applies only to replayed files", await Refused(new PipelineRunRequest("live") { Clock = "fast" }), StringComparison.Ordinal);
        Assert.Contains("reaches further than sensor 'mic' keeps (1000 ms", await Refused(new PipelineRunRequest("live") { PreMs = 5000 }), StringComparison.Ordinal);
        Assert.Contains("there is no sensor 'gone'", await Refused(new PipelineRunRequest("live") { Inputs = new() { ["audio"] = PipelineInput.FromSensor("gone") } }), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Skipping_on_live_input_stops_reading_the_microphone_and_a_camera_nobody_reads_pauses()
    {
        // An episode on which the gate cuts the audio short (expected.csv: fewer than 10 audio units used).
        int episode = File.ReadAllLines(Path.Combine(MmedgeFixture.Episodes, "expected.csv")).Skip(1).Select(l => l.Split(','))
            .First(f => int.Parse(f[3], System.Globalization.CultureInfo.InvariantCulture) <= 6).Select(int.Parse).First();
        await using var rig = new LiveRig();
        rig.AddMicrophone("mic", Wav(episode), loop: true);
        rig.AddCamera("cam", rig.FramesOf(episode), loop: true, onDemand: true);
        var pipeline = await LoadAsync(rig);
        rig.Start();
        await Eventually.TrueAsync(() => rig.Host.Status().Single(s => s.Name == "cam").State == "paused", "the on-demand camera to open paused");
        long framesBefore = rig.Host.Status().Single(s => s.Name == "cam").Readings;
        Assert.Equal(0, framesBefore);

        var run = pipeline.RunAsync(new PipelineRunRequest("live") { Skip = true }, rig.Folder, CancellationToken.None);
        await Eventually.TrueAsync(() => rig.Host.Status().All(s => s.Readers == 1), "the run to hold both sensors");
        Assert.Equal("ok", rig.Host.Status().Single(s => s.Name == "cam").State); // resumed while held
        var result = await run;

        // The gate cut the audio: the units after the cut were never read (the microphone went on for everyone else).
        Assert.Equal(8, result.Counts.Single(c => c.Modality == "vision").Encoded);
        int cut = result.Checkpoints.Single(c => c.Skipped).Units;
        var audio = result.Units.Where(u => u.Modality == "audio").ToArray();
        Assert.All(audio.Skip(cut + 1), u => Assert.True(u.State is "skipped" or "dropped", $"audio unit {u.Index} is {u.State}"));
        Assert.Contains(audio, u => u.State == "skipped");
        long heard = rig.Host.Status().Single(s => s.Name == "mic").Readings;
        await Eventually.TrueAsync(() => rig.Host.Status().Single(s => s.Name == "mic").Readings > heard + 800, "the microphone to go on capturing");

        // Both were let go, and the camera, which nobody reads now, is paused again: it takes no frames and its
        // paused time grows.
        var status = rig.Host.Status();
        Assert.All(status, s => Assert.Equal(0, s.Readers));
        var cam = status.Single(s => s.Name == "cam");
        Assert.Equal("paused", cam.State);
        Assert.True(cam.Readings - framesBefore >= 8, $"the camera delivered {cam.Readings - framesBefore} frames during the run");
        await Task.Delay(100); // a frame being delivered as the run let go may still land
        var settled = rig.Host.Status().Single(s => s.Name == "cam");
        await Task.Delay(300);
        var later = rig.Host.Status().Single(s => s.Name == "cam");
        Assert.Equal(settled.Readings, later.Readings);
        Assert.True(later.PausedSeconds - settled.PausedSeconds >= 0.25, $"paused {settled.PausedSeconds} -> {later.PausedSeconds} s");
    }

    [Fact]
    public async Task Two_runs_read_one_sensor_at_once_and_agree()
    {
        await using var rig = new LiveRig();
        rig.AddMicrophone("mic", Wav(7));
        rig.AddCamera("cam", rig.FramesOf(7));
        var pipeline = await LoadAsync(rig);
        var first = pipeline.RunAsync(new PipelineRunRequest("live") { Skip = false }, rig.Folder, CancellationToken.None);
        var second = pipeline.RunAsync(new PipelineRunRequest("live") { Skip = false }, rig.Folder, CancellationToken.None);
        rig.Start();
        await Eventually.TrueAsync(() => rig.Host.Status().All(s => s.Readers == 2), "both runs to hold both sensors");
        var results = await Task.WhenAll(first, second);
        Assert.Equal(results[0].Scores, results[1].Scores);
        Assert.Equal((await FromFilesAsync(Wav(7), rig.FramesOf(7), skip: false)).Scores, results[0].Scores);
    }

    [Fact]
    public async Task A_run_with_a_pre_window_starts_with_what_the_sensors_already_hold()
    {
        await using var rig = new LiveRig();
        string frames = rig.FramesOf(9);
        rig.AddMicrophone("mic", Wav(9));
        rig.AddCamera("cam", frames);
        var pipeline = await LoadAsync(rig);
        rig.Start();
        await Eventually.TrueAsync(() => rig.Host.Status().All(s => s.State == "stopped"), "both recordings to end");

        // The window reaches back past the recordings' start, so the run begins at their first sample, all in the
        // buffers already: every unit was sensed before the run was asked for.
        var live = await pipeline.RunAsync(new PipelineRunRequest("live") { Skip = false, PreMs = 3000 }, rig.Folder, CancellationToken.None);
        Assert.Equal((await FromFilesAsync(Wav(9), frames, skip: false)).Scores, live.Scores);
        Assert.All(live.Live, l => Assert.Equal(-3000, l.StartMs));
        Assert.All(live.Units, u => Assert.True(u.SensedMs < 0, $"{u.Modality} unit {u.Index} sensed at {u.SensedMs} ms"));

        // Without the window the stopped recordings have nothing more to give: the run fails, naming the sensor.
        var e = await Assert.ThrowsAsync<EdgeRuntimeException>(() => pipeline.RunAsync(new PipelineRunRequest("live"), rig.Folder, CancellationToken.None));
        Assert.Equal(ErrorCodes.SensorFailed, e.Code);
        Assert.Contains("stopped: the recording ended", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_sensor_that_fails_mid_run_ends_the_run_with_a_stored_typed_error_and_degraded_health()
    {
        await using var rig = new LiveRig();
        rig.Add(new FailingMicrophone(failAfterMs: 300), bufferMs: 2000);
        rig.AddCamera("cam", rig.FramesOf(0), loop: true);
        using var journal = ResultJournal.Open(new JournalOptions(Path.Combine(rig.Folder, "results")));
        var host = new PipelineHost(fixture.Invoker, rig.Folder, journal, _ => { }, rig.Sensors);
        await host.LoadAsync(Definition(), CancellationToken.None);
        rig.Start();

        var e = await Assert.ThrowsAsync<EdgeRuntimeException>(() => host.RunAsync(new PipelineRunRequest("live"), CancellationToken.None));
        Assert.Equal(ErrorCodes.SensorFailed, e.Code);
        Assert.Contains("sensor 'mic' failed: unplugged", e.Message, StringComparison.Ordinal);

        using var reader = journal.OpenReader(0);
        Assert.True(reader.TryRead(out var record));
        var stored = ProtocolJson.Deserialize(record.Json, ProtocolJsonContext.Default.ResultEvent);
        Assert.Equal(ErrorCodes.SensorFailed, stored.ErrorCode);
        Assert.Contains("unplugged", stored.Error, StringComparison.Ordinal);
        Assert.Contains(rig.Host.Problems(), p => p.StartsWith("sensor mic: unplugged", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_window_whose_start_the_ring_no_longer_holds_is_refused_rather_than_shortened()
    {
        await using var rig = new LiveRig();
        rig.AddMicrophone("mic", Wav(0), loop: true, bufferMs: 500);
        rig.AddCamera("cam", rig.FramesOf(0), loop: true);
        await LoadAsync(rig); // the microphone's ring grows to the 1 s a live reader needs
        rig.Start();
        await Eventually.TrueAsync(() => rig.Host.Status().Single(s => s.Name == "mic").Readings > 12_000, "more than the ring holds");

        // A window starting 3 s back (a trigger's run that waited for a slot): its first second is overwritten.
        long threeSecondsAgo = TimeProvider.System.GetTimestamp() - (3 * TimeProvider.System.TimestampFrequency);
        var e = Assert.Throws<EdgeRuntimeException>(() => rig.Sensors.OpenAudio("mic", rig.Sensors.Start(threeSecondsAgo, 0), 8000, 8000, 100));
        Assert.Equal(ErrorCodes.SensorOverrun, e.Code);
        Assert.Contains("sensor 'mic' keeps 1000 ms", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, rig.Host.Status().Single(s => s.Name == "mic").Readers); // the hold was let go

        // From a moment the ring still holds, the same call reads.
        using var fine = rig.Sensors.OpenAudio("mic", rig.Sensors.Start(null, 500), 8000, 8000, 100);
        Assert.Equal(800, (await fine.ReadAsync(0, CancellationToken.None)).Values.Length);
    }

    [Fact]
    public async Task A_sensor_that_goes_silent_ends_the_run_and_shows_in_health_until_it_delivers_again()
    {
        await using var rig = new LiveRig();
        var mic = new SilentMicrophone();
        rig.Add(mic, bufferMs: 2000);
        rig.AddCamera("cam", rig.FramesOf(0), loop: true);
        var pipeline = await LoadAsync(rig);
        rig.Start();

        var e = await Assert.ThrowsAsync<EdgeRuntimeException>(() => pipeline.RunAsync(new PipelineRunRequest("live"), rig.Folder, CancellationToken.None));
        Assert.Equal(ErrorCodes.SensorFailed, e.Code);
        Assert.Contains("sensor 'mic' delivered nothing for 2 s while a live run waited", e.Message, StringComparison.Ordinal);
        Assert.Contains(rig.Host.Problems(), p => p.StartsWith("sensor mic: delivered nothing", StringComparison.Ordinal));

        mic.Speak();
        await Eventually.TrueAsync(() => rig.Host.Problems().Length == 0, "the microphone to count as delivering again");
    }

    [Fact]
    public async Task A_continuous_pipeline_runs_a_sliding_window_every_hop_and_stores_each_result()
    {
        await using var rig = new LiveRig();
        rig.AddMicrophone("mic", Wav(2), loop: true);
        rig.AddCamera("cam", rig.FramesOf(2), loop: true);
        using var journal = ResultJournal.Open(new JournalOptions(Path.Combine(rig.Folder, "results")));
        await using var host = new PipelineHost(fixture.Invoker, rig.Folder, journal, _ => { }, rig.Sensors);
        await host.LoadAsync(Definition() with { HopMs = 500, Skip = false }, CancellationToken.None);

        // Nothing runs until the sensors do.
        await Task.Delay(700);
        Assert.Equal(0, journal.LastId);
        rig.Start();
        host.StartContinuous();

        await Eventually.TrueAsync(() => journal.LastId >= 3, "three continuous results", seconds: 30);
        var status = host.Statuses().Single();
        Assert.Equal(500, status.HopMs);
        Assert.True(status.ContinuousRuns >= 3);
        await host.DisposeAsync();

        using var reader = journal.OpenReader(0);
        var stored = new List<ResultEvent>();
        while (reader.TryRead(out var record))
        {
            stored.Add(ProtocolJson.Deserialize(record.Json, ProtocolJsonContext.Default.ResultEvent));
        }

        Assert.All(stored, r => Assert.Equal("continuous", r.Cause));
        Assert.All(stored, r => Assert.Null(r.Error));
        Assert.All(stored, r => Assert.Equal(10, r.Pipeline!.Counts.Single(c => c.Modality == "audio").Sensed));
    }

    private static void WriteWav(string path, WavAudio audio)
    {
        using var file = File.Create(path);
        Span<byte> header = stackalloc byte[44];
        int data = audio.Samples.Length * 2;
        "RIFF"u8.CopyTo(header);
        BinaryPrimitives.WriteInt32LittleEndian(header[4..], 36 + data);
        "WAVEfmt "u8.CopyTo(header[8..]);
        BinaryPrimitives.WriteInt32LittleEndian(header[16..], 16);
        BinaryPrimitives.WriteInt16LittleEndian(header[20..], 1);
        BinaryPrimitives.WriteInt16LittleEndian(header[22..], 1);
        BinaryPrimitives.WriteInt32LittleEndian(header[24..], audio.SampleRate);
        BinaryPrimitives.WriteInt32LittleEndian(header[28..], audio.SampleRate * 2);
        BinaryPrimitives.WriteInt16LittleEndian(header[32..], 2);
        BinaryPrimitives.WriteInt16LittleEndian(header[34..], 16);
        "data"u8.CopyTo(header[36..]);
        BinaryPrimitives.WriteInt32LittleEndian(header[40..], data);
        file.Write(header);
        Span<byte> sample = stackalloc byte[2];
        foreach (float v in audio.Samples)
        {
            BinaryPrimitives.WriteInt16LittleEndian(sample, (short)Math.Clamp(MathF.Round(v * 32767), -32768, 32767));
            file.Write(sample);
        }
    }

    /// <summary>An 8 kHz microphone that opens and delivers nothing until told to.</summary>
    private sealed class SilentMicrophone : ISensorSource
    {
        private readonly TaskCompletionSource _speak = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string Name => "mic";

        public string Type => "alsa";

        public IReadOnlyList<string> Channels { get; } = ["audio"];

        public double SampleRate => 8000;

        public void Speak() => _speak.TrySetResult();

        public async Task RunAsync(ISensorObserver observer, CancellationToken cancellationToken)
        {
            observer.OnOpened(this);
            await _speak.Task.WaitAsync(cancellationToken);
            var chunk = new float[160];
            while (true)
            {
                observer.OnFrame(this, new SensorFrame(TimeProvider.System.GetTimestamp(), chunk, 1));
                await Task.Delay(20, cancellationToken);
            }
        }
    }

    /// <summary>An 8 kHz microphone that delivers silence at its real pace, then is unplugged.</summary>
    private sealed class FailingMicrophone(double failAfterMs) : ISensorSource
    {
        public string Name => "mic";

        public string Type => "alsa";

        public IReadOnlyList<string> Channels { get; } = ["audio"];

        public double SampleRate => 8000;

        public async Task RunAsync(ISensorObserver observer, CancellationToken cancellationToken)
        {
            observer.OnOpened(this);
            var chunk = new float[160];
            var started = System.Diagnostics.Stopwatch.StartNew();
            while (started.Elapsed.TotalMilliseconds < failAfterMs)
            {
                await Task.Delay(20, cancellationToken);
                observer.OnFrame(this, new SensorFrame(TimeProvider.System.GetTimestamp(), chunk, 1));
            }

            throw new IOException("unplugged");
        }
    }
}
