using System.Diagnostics;
using System.Globalization;
using EdgeRuntime.Formats;
using EdgeRuntime.Pipelines;
using EdgeRuntime.Pipelines.Live;
using EdgeRuntime.Pipelines.Mmedge;
using EdgeRuntime.Protocol;
using EdgeRuntime.Sensors;
using EdgeRuntime.Sensors.Gpio;

namespace EdgeRuntime.Bench;

/// <summary>
/// bench-pipelines, live part: MMEdge fed by simulated sensors at their real rate (a 16 kHz microphone in 20 ms chunks
/// and a 16 frames/s camera, each an episode replayed as the daemon's wav and images sensors do) against the same
/// episode replayed from its files on the real-time clock, episode by episode, and the cost of reading one microphone
/// three times over against once.
/// </summary>
internal static class LivePipelineBench
{
    private static readonly CultureInfo C = CultureInfo.InvariantCulture;

    public static async Task<List<BenchResult>> RunAsync(MmedgePipeline replay, ModelInvoker invoker, string manifest, string episodes, PipelineConfiguration configuration, bool quick)
    {
        string folder = Directory.CreateTempSubdirectory("edgeruntime-live-bench-").FullName;
        try
        {
            var results = new List<BenchResult>();
            int count = quick ? 4 : 40;
            var replayed = new List<double>();
            var live = new List<double>();
            double audioMsAll = 0, audioMsSkip = 0;
            int unitsAll = 0, unitsSkip = 0, differ = 0;
            for (int e = 0; e < count; e++)
            {
                string wav = Path.Combine(episodes, $"{e:0000}.wav");
                string frames = WriteFrames(Path.Combine(episodes, $"{e:0000}.npy"), Path.Combine(folder, $"frames-{e}"));
                var fromFiles = await replay.RunAsync(new MmedgeRunOptions(wav, frames, new RealtimeClock()) { Skip = false, Configuration = configuration }, CancellationToken.None);
                var all = await RunLiveAsync(invoker, manifest, wav, frames, configuration, skip: false);
                var skipped = await RunLiveAsync(invoker, manifest, wav, frames, configuration, skip: true);
                replayed.Add(fromFiles.PostSensingMs);
                live.Add(all.PostSensingMs);
                differ += fromFiles.Prediction == all.Prediction ? 0 : 1;
                (audioMsAll, unitsAll) = (audioMsAll + AudioEncodeMs(all), unitsAll + AudioEncoded(all));
                (audioMsSkip, unitsSkip) = (audioMsSkip + AudioEncodeMs(skipped), unitsSkip + AudioEncoded(skipped));
            }

            double replayP50 = Statistics.Median(replayed), liveP50 = Statistics.Median(live);
            Console.WriteLine(string.Create(C, $"live: post-sensing p50 {liveP50:0.00} ms (sensors) vs {replayP50:0.00} ms (files, real-time clock) over {count} episodes; {differ} predictions differ (the microphone is resampled 8 -> 16 -> 8 kHz)"));
            results.Add(new BenchResult("mmedge_live_post_sensing_ms_p50", liveP50, "ms", replayP50, liveP50 / replayP50,
                string.Create(C, $"median post-sensing latency, live sensors (16 kHz wav microphone in 20 ms chunks resampled to 8 kHz, 16 frames/s camera, both at real rate) vs the same {count} episodes replayed from files on the real-time clock, {configuration}, no skipping; {differ} of {count} predictions differ; target ratio <= 1.2")));
            double saving = 100 * (1 - (audioMsSkip / audioMsAll));
            Console.WriteLine(string.Create(C, $"live skipping: audio encoder {audioMsAll:0.0} ms ({unitsAll} units) without, {audioMsSkip:0.0} ms ({unitsSkip} units) with: {saving:0.0}% saved"));
            results.Add(new BenchResult("mmedge_live_skip_encoder_saving_pct", saving, "%", 30, saving / 30,
                string.Create(C, $"audio (slow modality) encoder time on live input over {count} episodes: {audioMsAll:0.0} ms for {unitsAll} units without skipping, {audioMsSkip:0.0} ms for {unitsSkip} units with; baseline is the target")));

            var (one, three) = await ReaderCpuAsync(folder, Path.Combine(episodes, "0000.wav"), quick);
            Console.WriteLine(string.Create(C, $"readers of one 16 kHz microphone: 1 reader {one:0.000}% CPU, 3 readers {three:0.000}% CPU ({three / one:0.00}x)"));
            results.Add(new BenchResult("pipeline_sensor_readers_cpu_pct", three, "%", one, three / one,
                string.Create(C, $"process CPU (% of one core, median of alternating {(quick ? 3 : 5)}-s windows) with three live readers of one simulated 16 kHz microphone (each cutting 100 ms units from the shared ring and resampling them to 8 kHz, no model) vs one reader; the microphone itself is in both; target ratio <= 1.3")));
            return results;
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static double AudioEncodeMs(PipelineResult r) => r.Units.Where(u => u.Modality == "audio" && u.State == "encoded").Sum(u => u.EncodeEndMs - u.EncodeStartMs);

    private static int AudioEncoded(PipelineResult r) => r.Counts.First(c => c.Modality == "audio").Encoded;

    /// <summary>An episode's sensors, started right after the run is asked for, so the run begins at their first sample.</summary>
    private static async Task<PipelineResult> RunLiveAsync(ModelInvoker invoker, string manifest, string wav, string frames, PipelineConfiguration configuration, bool skip)
    {
        using var chips = new GpioChips(null);
        await using var host = new SensorHost(_ => { });
        host.Add(SensorFactory.Create(new SensorConfig { Name = "mic", Type = "wav", Path = wav, SampleRate = 16000, ChunkSamples = 320 }, chips, "/"), 0);
        host.Add(SensorFactory.Create(new SensorConfig { Name = "cam", Type = "images", Path = frames, SampleHz = 16 }, chips, "/"), 0);
        var definition = new PipelineDefinition("live", "mmedge", manifest)
        {
            Inputs = new() { ["audio"] = PipelineInput.FromSensor("mic"), ["vision"] = PipelineInput.FromSensor("cam") },
            Configuration = configuration,
            Skip = skip,
        };
        // Loaded per episode (the models are the registry's already; only their latency is profiled again).
        var pipeline = await MmedgePipeline.LoadAsync(definition, manifest, invoker, null, CancellationToken.None, new LiveSensors(host));
        var run = pipeline.RunAsync(new PipelineRunRequest("live"), "/", CancellationToken.None);
        host.Start();
        return await run;
    }

    private static string WriteFrames(string npy, string folder)
    {
        Directory.CreateDirectory(folder);
        float[] values = NpyFile.Read(npy).ToArray<float>();
        for (int f = 0; f < 8; f++)
        {
            byte[] pixels = [.. values.Skip(f * 64).Take(64).Select(v => (byte)Math.Clamp(MathF.Round(v * 255f), 0f, 255f))];
            File.WriteAllBytes(Path.Combine(folder, $"{f:000}.pgm"), [.. "P5\n8 8\n255\n"u8.ToArray(), .. pixels]);
        }

        return folder;
    }

    /// <summary>
    /// Process CPU while 1 or 3 readers follow one looping 16 kHz microphone, windows alternating 1, 3, 1, 3 ... so drift
    /// in the machine hits both alike; the median of each.
    /// </summary>
    private static async Task<(double One, double Three)> ReaderCpuAsync(string folder, string wav, bool quick)
    {
        using var chips = new GpioChips(null);
        await using var host = new SensorHost(_ => { });
        host.Add(SensorFactory.Create(new SensorConfig { Name = "mic", Type = "wav", Path = wav, SampleRate = 16000, ChunkSamples = 320, Loop = true }, chips, folder), 0);
        var live = new LiveSensors(host);
        live.CheckAudio("audio", "mic", 8000);
        host.Start();
        await Task.Delay(500);
        var window = TimeSpan.FromSeconds(quick ? 3 : 5);
        var one = new List<double>();
        var three = new List<double>();
        for (int round = 0; round < (quick ? 2 : 3); round++)
        {
            one.Add(await MeasureAsync(live, 1, window));
            three.Add(await MeasureAsync(live, 3, window));
        }

        return (Statistics.Median(one), Statistics.Median(three));
    }

    private static async Task<double> MeasureAsync(LiveSensors live, int readers, TimeSpan window)
    {
        using var stop = new CancellationTokenSource();
        var start = live.Start(null, 0);
        var tasks = Enumerable.Range(0, readers).Select(_ => Task.Run(() => ReadAsync(live, start, stop.Token))).ToArray();
        await Task.Delay(200); // the readers are waiting for their first unit
        var process = Process.GetCurrentProcess();
        process.Refresh();
        var cpu = process.TotalProcessorTime;
        var wall = Stopwatch.StartNew();
        await Task.Delay(window);
        process.Refresh();
        double pct = 100 * (process.TotalProcessorTime - cpu).TotalSeconds / wall.Elapsed.TotalSeconds;
        await stop.CancelAsync();
        await Task.WhenAll(tasks);
        return pct;
    }

    /// <summary>What a run's audio reader does: wait for each 100 ms unit in the ring, copy and resample it.</summary>
    private static async Task ReadAsync(LiveSensors live, LiveStart start, CancellationToken stop)
    {
        using var source = live.OpenAudio("mic", start, 8000, 8000 * 3600, 100);
        try
        {
            for (int block = 0; ; block++)
            {
                await source.ReadAsync(block, stop);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
