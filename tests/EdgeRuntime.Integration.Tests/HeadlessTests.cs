using System.Globalization;
using System.Text.Json;
using EdgeRuntime.Client;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Integration.Tests;

/// <summary>
/// The published edged running headless: sensors, triggers, the result store, subscriptions. Sensors are simulated
/// (GPIO, fed by inject) or replayed (the speech recording), so the whole path runs as on a board, minus the wiring.
/// </summary>
public sealed class HeadlessTests
{
    private static string SpeechSensor(string name = "speech", bool loop = true) =>
        $$"""{ "name": "{{name}}", "type": "wav", "path": "{{Paths.SpeechWav}}", "loop": {{(loop ? "true" : "false")}}, "bufferMs": 2000 }""";

    private const string VadRun = """ "model": "vad", "input": "input", "frameSamples": 512, "carry": { "stateN": "state" }, "constants": { "sr": 16000 } """;

    /// <summary>A daemon with a simulated button whose presses run the MLP on 32 ms of buffered speech.</summary>
    private static string ButtonConfig(string storePath = "results", double holdOffMs = 0) => $$"""
        "store": { "path": "{{storePath}}", "segmentKiB": 64 },
        "sensors": [
          { "name": "button", "type": "gpio", "pin": 17, "edge": "rising", "debounceMs": 0, "simulated": true },
          {{SpeechSensor()}}
        ],
        "triggers": [
          { "name": "press", "on": { "gpio": "button", "holdOffMs": {{holdOffMs.ToString(CultureInfo.InvariantCulture)}} },
            "run": { "model": "mlp", "window": { "sensor": "speech", "preMs": 32, "postMs": 0 } } }
        ]
        """;

    private static string Json(ResultEvent e) => JsonSerializer.Serialize(e, ProtocolJsonContext.Default.ResultEvent);

    [Fact]
    public async Task Replayed_speech_triggers_silero_vad_and_the_result_reaches_a_subscriber_and_the_store()
    {
        string config = $$"""
            "store": { "path": "results" },
            "sensors": [ {{SpeechSensor()}} ],
            "triggers": [
              { "name": "talk", "on": { "model": { "sensor": "speech", "output": "output", "above": 0.5, "run": { {{VadRun}} } }, "holdOffMs": 60000 },
                "run": { {{VadRun}}, "window": { "sensor": "speech", "preMs": 500, "postMs": 500 } } }
            ]
            """;
        string directory = EdgedProcess.Prepare(config, preload: """{ "name": "vad", "path": "silero_vad_v5.onnx" }""");
        string firstJson;
        float[] firstScores;
        await using (var edged = await EdgedProcess.StartInAsync(directory))
        {
            edged.KeepDirectory = true;
            await using var client = await EdgeClient.ConnectAsync(edged.SocketPath);
            await using var subscription = await client.SubscribeAsync(new SubscribeRequest(Since: 0));
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var result = await subscription.ReadAsync(timeout.Token);

            Assert.Equal(1, result.Event.Id);
            Assert.Equal("talk", result.Event.Trigger);
            Assert.StartsWith("model vad output = ", result.Event.Cause, StringComparison.Ordinal);
            Assert.Null(result.Event.Error);
            // Up to one second of 16 kHz audio around the onset (less before it when speech starts within 500 ms of the
            // recording), run in frames of 512 samples with the LSTM state carried.
            var window = result.Event.Window!;
            Assert.Equal("speech", window.Sensor);
            Assert.InRange(window.StartOffsetMs, -501, -1);
            Assert.InRange(window.Samples, (int)((-window.StartOffsetMs + 500) * 16) - 600, (int)((-window.StartOffsetMs + 500) * 16) + 600);
            var scores = result["output"];
            Assert.Equal((window.Samples + 511) / 512, scores.Shape[0]);
            firstScores = scores.ToArray<float>();
            Assert.True(firstScores.Max() >= 0.5f, $"the window around the trigger holds speech (max {firstScores.Max()})");
            Assert.Equal([2L, 1, 128], result["stateN"].Shape);

            // The result is stored (and so reaches the subscriber) before the run is counted; wait for the count.
            await Eventually.TrueAsync(async () => (await client.HealthAsync()).Triggers.Sum(t => t.Completed + t.Failed) >= 1, "the run to be counted");
            var health = await client.HealthAsync();
            Assert.Equal("ok", health.Status);
            Assert.Equal(1, health.Store!.LastId);
            var talk = Assert.Single(health.Triggers);
            Assert.Equal(1, talk.Fired);
            Assert.Equal(1, talk.Completed);
            Assert.Equal("ok", Assert.Single(health.Sensors).State);
            firstJson = Json(result.Event);
            Assert.Equal(0, await edged.StopAsync());
        }

        // The store outlives the daemon: a new one serves the same result, byte for byte.
        await using (var again = await EdgedProcess.StartInAsync(directory))
        {
            await using var client = await EdgeClient.ConnectAsync(again.SocketPath);
            await using var subscription = await client.SubscribeAsync(new SubscribeRequest(Since: 0, Triggers: ["talk"]));
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var stored = await subscription.ReadAsync(timeout.Token);
            Assert.Equal(firstJson, Json(stored.Event));
            Assert.Equal(firstScores, stored["output"].ToArray<float>());
        }
    }

    [Fact]
    public async Task Kill_9_during_a_burst_loses_no_acknowledged_result_and_resume_continues_without_gaps()
    {
        string directory = EdgedProcess.Prepare(ButtonConfig(), preload: """{ "name": "mlp", "path": "mlp.onnx" }""");
        var received = new List<(ResultEvent Event, float[] Y)>();
        await using (var edged = await EdgedProcess.StartInAsync(directory))
        {
            edged.KeepDirectory = true;
            await using var watcher = await EdgeClient.ConnectAsync(edged.SocketPath);
            await using var presser = await EdgeClient.ConnectAsync(edged.SocketPath);
            var subscription = await watcher.SubscribeAsync(new SubscribeRequest());
            using var stopPressing = new CancellationTokenSource();
            var pressing = Task.Run(async () =>
            {
                try
                {
                    while (!stopPressing.IsCancellationRequested)
                    {
                        await presser.InjectAsync(new InjectRequest("button", "rising"));
                    }
                }
                catch (EdgeRuntimeException)
                {
                    // The daemon was killed under it.
                }
            });

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            while (received.Count < 60)
            {
                var result = await subscription.ReadAsync(timeout.Token);
                received.Add((result.Event, result["y"].ToArray<float>()));
            }

            edged.KillHard(); // SIGKILL in the middle of the burst: presses still arriving, runs in flight
            await stopPressing.CancelAsync();
            await pressing;
        }

        Assert.Equal(Enumerable.Range(1, received.Count).Select(i => (long)i), received.Select(r => r.Event.Id));
        await using (var again = await EdgedProcess.StartInAsync(directory))
        {
            await using var client = await EdgeClient.ConnectAsync(again.SocketPath);
            var health = await client.HealthAsync();
            long lastId = health.Store!.LastId;
            Assert.True(lastId >= received.Count, $"the store holds {lastId} results; {received.Count} were acknowledged before the kill");

            // Everything acknowledged is there, identical; everything stored reads back whole (CRC-checked).
            await using var all = await client.SubscribeAsync(new SubscribeRequest(Since: 0));
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var stored = new List<StoredResult>();
            while (stored.Count < lastId)
            {
                stored.Add(await all.ReadAsync(timeout.Token));
            }

            Assert.Equal(Enumerable.Range(1, (int)lastId).Select(i => (long)i), stored.Select(s => s.Event.Id));
            for (int i = 0; i < received.Count; i++)
            {
                Assert.Equal(Json(received[i].Event), Json(stored[i].Event));
                Assert.Equal(received[i].Y, stored[i]["y"].ToArray<float>());
            }

            // Resume from the last id this subscriber had processed: exactly the later ones, then new presses.
            await using var resumed = await client.SubscribeAsync(new SubscribeRequest(Since: received[^1].Event.Id));
            for (long id = received[^1].Event.Id + 1; id <= lastId; id++)
            {
                Assert.Equal(id, (await resumed.ReadAsync(timeout.Token)).Event.Id);
            }

            await client.InjectAsync(new InjectRequest("button", "rising"));
            Assert.Equal(lastId + 1, (await resumed.ReadAsync(timeout.Token)).Event.Id);
        }
    }

    [Fact]
    public async Task A_sensor_whose_recording_disappears_degrades_health_and_recovers_when_it_returns()
    {
        string directory = EdgedProcess.Prepare();
        string csv = Path.Combine(directory, "temps.csv");
        await File.WriteAllTextAsync(csv, "temperature\n21\n22\n");
        string config = """
            "sensors": [ { "name": "temps", "type": "series", "path": "temps.csv", "sampleHz": 50, "loop": true } ]
            """;
        string json = await File.ReadAllTextAsync(Path.Combine(directory, "edged.json"));
        await File.WriteAllTextAsync(Path.Combine(directory, "edged.json"), json.TrimEnd().TrimEnd('}') + "," + config + "}");
        await using var edged = await EdgedProcess.StartInAsync(directory);
        await using var client = await EdgeClient.ConnectAsync(edged.SocketPath);
        await Eventually.TrueAsync(async () => (await client.HealthAsync()).Sensors[0].State == "ok", "the sensor to run");

        File.Delete(csv);
        await Eventually.TrueAsync(async () => (await client.HealthAsync()).Status == "degraded", "health to degrade");
        var degraded = await client.HealthAsync();
        Assert.Contains(degraded.Problems, p => p.StartsWith("sensor temps:", StringComparison.Ordinal) && p.Contains("temps.csv", StringComparison.Ordinal));
        var status = await edged.EdgectlAsync("status");
        Assert.Contains("sensor       temps (series) failed", status.Stdout, StringComparison.Ordinal);

        await File.WriteAllTextAsync(csv, "temperature\n30\n");
        await Eventually.TrueAsync(async () => (await client.HealthAsync()).Status == "ok", "health to recover");
        var recovered = (await client.HealthAsync()).Sensors[0];
        Assert.Equal("ok", recovered.State);
        Assert.True(recovered.Failures >= 1);
        await Eventually.TrueAsync(async () => (await client.HealthAsync()).Sensors[0].LastReading[0].Value == 30, "the new recording's value");
    }

    [Fact]
    public async Task Edgectl_injects_watches_since_an_id_and_shows_sensors_and_triggers_in_status()
    {
        await using var edged = await EdgedProcess.StartAsync(ButtonConfig(), preload: """{ "name": "mlp", "path": "mlp.onnx" }""");
        for (int i = 0; i < 3; i++)
        {
            var inject = await edged.EdgectlAsync("inject", "button", "--edge", "rising");
            Assert.True(inject.ExitCode == 0, inject.All);
        }

        var watch = await edged.EdgectlAsync("--json", "watch", "--since", "1", "--count", "2", "--timeout", "30");
        Assert.True(watch.ExitCode == 0, watch.All);
        var lines = watch.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal([2L, 3L], lines.Select(l => JsonSerializer.Deserialize(l, ProtocolJsonContext.Default.ResultEvent)!.Id));

        var human = await edged.EdgectlAsync("watch", "press", "--since", "0", "--count", "1", "--timeout", "30");
        Assert.Contains("#1", human.Stdout, StringComparison.Ordinal);
        Assert.Contains("gpio button rising", human.Stdout, StringComparison.Ordinal);

        var status = await edged.EdgectlAsync("status");
        Assert.Contains("sensor       button (gpio) ok", status.Stdout, StringComparison.Ordinal);
        Assert.Contains("trigger      press on gpio button: fired 3", status.Stdout, StringComparison.Ordinal);
        Assert.Contains("store        ", status.Stdout, StringComparison.Ordinal);

        var unknown = await edged.EdgectlAsync("inject", "nosuch", "--edge", "rising");
        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains("unknown_sensor", unknown.Stderr, StringComparison.Ordinal);
        var notSimulated = await edged.EdgectlAsync("inject", "speech", "--edge", "rising");
        Assert.Contains("unknown_sensor", notSimulated.Stderr, StringComparison.Ordinal);
        var timedOut = await edged.EdgectlAsync("watch", "--count", "1", "--timeout", "0.5");
        Assert.Equal(1, timedOut.ExitCode);
        Assert.Contains("timeout", timedOut.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Under_systemd_with_no_client_it_keeps_triggering_and_pinging_while_a_sensor_is_down_and_keeps_the_results()
    {
        // A schedule trigger every 100 ms on the replayed microphone, and a PIR on real GPIO that cannot open here.
        string config = $$"""
            "store": { "path": "results" },
            "sensors": [ {{SpeechSensor()}}, { "name": "pir", "type": "gpio", "pin": 4 } ],
            "triggers": [ { "name": "tick", "on": { "everySeconds": 0.1 }, "run": { "model": "mlp", "window": { "sensor": "speech", "preMs": 32 } } } ]
            """;
        string directory = EdgedProcess.Prepare(config, preload: """{ "name": "mlp", "path": "mlp.onnx" }""");
        using var notify = new NotifySocket(directory, watchdogMicroseconds: 200_000);
        await using var edged = await EdgedProcess.StartCommandAsync(directory, Paths.Edged, [], TimeSpan.FromSeconds(30), notify.Environment);

        // No client for a while: READY, then watchdog pings keep coming although the PIR keeps failing.
        var messages = await notify.ReceiveUntilPingsAsync(10, TimeSpan.FromSeconds(15));

        Assert.StartsWith("READY=1", messages[0], StringComparison.Ordinal);
        Assert.True(await edged.WaitForLogAsync("sensor pir: failed: The board profile declares no GPIO chip"), edged.Log);

        // An app connecting later collects what was stored meanwhile, from the start.
        await using var client = await EdgeClient.ConnectAsync(edged.SocketPath);
        var health = await client.HealthAsync();
        Assert.Equal("degraded", health.Status);
        Assert.Contains(health.Problems, p => p.StartsWith("sensor pir:", StringComparison.Ordinal));
        Assert.True(health.Store!.LastId >= 5, $"{health.Store.LastId} results stored while no client was connected");
        await using var subscription = await client.SubscribeAsync(new SubscribeRequest(Since: 0));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        long succeeded = 0;
        // Everything stored before the client came, and on until five ticks have run on speech (the schedule goes on).
        for (long id = 1; id <= health.Store.LastId || succeeded < 5; id++)
        {
            var result = await subscription.ReadAsync(timeout.Token);
            Assert.Equal(id, result.Event.Id);
            Assert.Equal("schedule", result.Event.Cause);
            // The schedule starts with the daemon, and on a loaded machine a tick can come before the replayed
            // microphone's first block: such a result is stored with the error saying so. Only those come first;
            // once the microphone delivers, every tick's window holds speech and no result carries an error.
            if (succeeded == 0 && result.Event.Error is { } error)
            {
                Assert.Contains("'speech' delivered nothing in the window", error, StringComparison.Ordinal);
                continue;
            }

            Assert.Null(result.Event.Error);
            succeeded++;
        }
    }

    [Fact]
    public async Task Hold_off_over_the_socket_counts_presses_that_came_too_soon()
    {
        await using var edged = await EdgedProcess.StartAsync(ButtonConfig(holdOffMs: 60_000), preload: """{ "name": "mlp", "path": "mlp.onnx" }""");
        await using var client = await EdgeClient.ConnectAsync(edged.SocketPath);
        for (int i = 0; i < 5; i++)
        {
            await client.InjectAsync(new InjectRequest("button", "rising"));
        }

        await Eventually.TrueAsync(async () => (await client.HealthAsync()).Triggers[0].Completed == 1, "the one run");
        var press = (await client.HealthAsync()).Triggers[0];
        Assert.Equal(1, press.Fired);
        Assert.Equal(4, press.HeldOff);
    }

    [Fact]
    public async Task Subscribe_without_a_store_and_bad_trigger_configuration_get_clear_errors()
    {
        await using (var plain = await EdgedProcess.StartAsync())
        {
            await using var client = await EdgeClient.ConnectAsync(plain.SocketPath);
            var error = await Assert.ThrowsAsync<EdgeRuntimeException>(() => client.SubscribeAsync(new SubscribeRequest()));
            Assert.Equal(ErrorCodes.BadRequest, error.Code);
            Assert.Contains("no result store", error.Message, StringComparison.Ordinal);
        }

        string bad = """
            "store": { "path": "results" },
            "sensors": [ { "name": "button", "type": "gpio", "pin": 17, "simulated": true } ],
            "triggers": [ { "name": "press", "on": { "gpio": "button" }, "run": { "model": "mlp", "window": { "sensor": "nosuch", "preMs": 10 } } } ]
            """;
        string directory = EdgedProcess.Prepare(bad);
        try
        {
            var run = await ProcessRunner.RunAsync(Paths.Edged, "--config", Path.Combine(directory, "edged.json"), "--socket", Path.Combine(directory, "s.sock"));
            Assert.Equal(2, run.ExitCode);
            Assert.Contains("run.window.sensor 'nosuch' is not a configured sensor", run.All, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }

        // A window before the firing needs a pipeline that reads sensors keeping at least that much.
        string models = Path.Combine(Paths.RepositoryRoot, "models", "mmedge", "mmedge.json");
        string frames = Path.Combine(Paths.RepositoryRoot, "samples", "mmedge", "live");
        string wav = Path.Combine(Paths.RepositoryRoot, "samples", "mmedge", "test", "0001.wav");
        foreach (var (inputs, expected) in new[]
        {
            ($$"""{ "audio": "{{wav}}", "vision": "{{frames}}" }""", "its pipeline 'digits' replays files, so it has no window before the firing (preMs)"),
            ("""{ "audio": { "sensor": "mic" }, "vision": { "sensor": "cam" } }""", "preMs 3000 reaches further back than sensor 'mic' (audio of 'digits') keeps (1000 ms; raise its bufferMs)"),
        })
        {
            string window = $$"""
                "store": { "path": "results" },
                "sensors": [
                  { "name": "button", "type": "gpio", "pin": 17, "simulated": true },
                  { "name": "mic", "type": "wav", "path": "{{wav}}", "sampleRate": 8000 },
                  { "name": "cam", "type": "images", "path": "{{frames}}", "sampleHz": 16 }
                ],
                "pipelines": [ { "name": "digits", "kind": "mmedge", "manifest": "{{models}}", "inputs": {{inputs}} } ],
                "triggers": [ { "name": "look", "on": { "gpio": "button" }, "pipeline": "digits", "preMs": 3000 } ]
                """;
            directory = EdgedProcess.Prepare(window);
            try
            {
                var run = await ProcessRunner.RunAsync(Paths.Edged, "--config", Path.Combine(directory, "edged.json"), "--socket", Path.Combine(directory, "s.sock"));
                Assert.Equal(2, run.ExitCode);
                Assert.Contains($"configuration: trigger 'look': {expected}", run.All, StringComparison.Ordinal);
            }
            finally
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }
}

/// <summary>The configurations we ship parse, validate and run: the host default (the demo's) and the packages'.</summary>
public sealed class ShippedConfigurationTests
{
    private static void CopyTree(string from, string to)
    {
        foreach (string file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            string target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target, overwrite: true);
        }
    }

    [Fact]
    public async Task The_default_configuration_runs_its_simulated_sensors_and_triggers()
    {
        string directory = Directory.CreateTempSubdirectory("edged-default-").FullName;
        try
        {
            File.Copy(Path.Combine(Paths.RepositoryRoot, "boards/edged.json"), Path.Combine(directory, "edged.json"));
            Directory.CreateDirectory(Path.Combine(directory, "models"));
            Directory.CreateDirectory(Path.Combine(directory, "audio"));
            File.Copy(Paths.SileroVad, Path.Combine(directory, "models", "silero_vad_v5.onnx"));

            File.Copy(Paths.SpeechWav, Path.Combine(directory, "audio", "speech.wav"));
            // As build.ps1 publish lays it out: the trained pipeline models and the replay samples.
            CopyTree(Path.Combine(Paths.RepositoryRoot, "models"), Path.Combine(directory, "models"));
            CopyTree(Path.Combine(Paths.RepositoryRoot, "samples"), Path.Combine(directory, "samples"));
            await using var edged = await EdgedProcess.StartInAsync(directory);
            edged.KeepDirectory = true;
            await using var client = await EdgeClient.ConnectAsync(edged.SocketPath);
            // The live pair has been capturing for longer than the look trigger's window before the press, so that
            // window holds frames from before it (at the daemon's first instant it would reach back before them).
            await Eventually.TrueAsync(async () => (await client.HealthAsync()).Sensors.Single(s => s.Name == "digit-mic").Readings >= 8000, "a second of the digit microphone");
            await client.InjectAsync(new InjectRequest("button", "rising"));
            await using var subscription = await client.SubscribeAsync(new SubscribeRequest(Since: 0, Triggers: ["press"]));
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var press = await subscription.ReadAsync(timeout.Token);
            Assert.Null(press.Event.Error);
            var health = await client.HealthAsync();
            Assert.Equal(["mic", "button", "camera", "digit-mic", "digit-cam"], health.Sensors.Select(s => s.Name));
            Assert.Equal(["speech", "press", "look", "glance", "caption"], health.Triggers.Select(t => t.Name));
            Assert.Equal(Path.Combine(directory, "results"), health.Store!.Path);

            // The press also captioned the replayed camera's next frame with the vision-language model. Which of the
            // four frames depends on timing; each is a test image the model names right (tools/vlm/report.json).
            await using var captions = await client.SubscribeAsync(new SubscribeRequest(Since: 0, Triggers: ["caption"]));
            var caption = await captions.ReadAsync(timeout.Token);
            Assert.Null(caption.Event.Error);
            Assert.Contains(caption.Event.Caption?.Text, new[] { "a light ankle boot", "a dark pullover", "a dark trouser", "a medium trouser" });

            // The press also ran the live digits pipeline ("look") from 500 ms before it on what the digit microphone
            // and camera were capturing, and classified the camera's next frame ("glance"), stored with the frame.
            await using var looks = await client.SubscribeAsync(new SubscribeRequest(Since: 0, Triggers: ["digits-live"]));
            var look = await looks.ReadAsync(timeout.Token);
            Assert.StartsWith("trigger look: ", look.Event.Cause, StringComparison.Ordinal);
            Assert.Null(look.Event.Error);
            Assert.Equal(["digit-mic", "digit-cam"], look.Event.Pipeline!.Live.Select(l => l.Sensor));
            // The window starts 500 ms before the press, which came a little before the run started.
            Assert.All(look.Event.Pipeline.Live, l => Assert.InRange(l.StartMs, -5000, -500));
            Assert.Contains(look.Event.Pipeline.Units, u => u.SensedMs < 0); // the pre-trigger window's units
            await using var glances = await client.SubscribeAsync(new SubscribeRequest(Since: 0, Triggers: ["fashion-live"]));
            var glance = await glances.ReadAsync(timeout.Token);
            Assert.StartsWith("trigger glance: ", glance.Event.Cause, StringComparison.Ordinal);
            Assert.Equal(["scores", "frame"], glance.Event.Outputs.Select(o => o.Name));
            Assert.Equal([28L, 28L], glance.Event.Outputs[1].Shape);
            Assert.Equal(28 * 28, glance.Outputs[1].Data.Length);
            Assert.Equal(["digits", "digits-live", "fashion", "fashion-live"], (await client.PipelinesAsync()).Select(p => p.Name));
            var digits = await client.RunPipelineAsync(new PipelineRunRequest("digits"));
            // Sensing replays half a second of frames at real-time pace, so it cannot end sooner; a loaded machine (CI
            // runs every suite on two cores) can delay its end by seconds, so the upper bound only catches a stall.
            Assert.InRange(digits.Result.SensingEndMs, 490, 5000);
            Assert.True(digits.Id > press.Event.Id);
            var fashion = await client.RunPipelineAsync(new PipelineRunRequest("fashion") { Index = 3 });
            Assert.Equal("cbnet", fashion.Result.Kind);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task The_package_configuration_is_valid_and_keeps_a_store()
    {
        string directory = Directory.CreateTempSubdirectory("edged-package-").FullName;
        try
        {
            string json = await File.ReadAllTextAsync(Path.Combine(Paths.RepositoryRoot, "boards/package/edged.json"));
            Assert.Contains("\"/var/lib/edgeruntime/results\"", json, StringComparison.Ordinal);
            // The same file with its two system paths pointed into the test's folder.
            Directory.CreateDirectory(Path.Combine(directory, "models"));
            File.Copy(Paths.SileroVad, Path.Combine(directory, "models", "silero_vad_v5.onnx"));

            // And the language models it preloads, folders of four files, as the packages install them.
            foreach (string model in new[] { "bitnet-kjv", "lfm2-kjv" })
            {
                string target = Path.Combine(directory, "models", model);
                Directory.CreateDirectory(target);
                foreach (string file in Directory.GetFiles(Path.Combine(Paths.RepositoryRoot, "models", model)))
                {
                    File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
                }
            }

            json = json.Replace("/var/lib/edgeruntime/results", Path.Combine(directory, "results"), StringComparison.Ordinal)
                .Replace("/usr/share/edgeruntime/models", Path.Combine(directory, "models"), StringComparison.Ordinal)
                .Replace("\"allowedGroups\": [ \"edgeruntime\" ]", "\"allowedGroups\": []", StringComparison.Ordinal);
            await File.WriteAllTextAsync(Path.Combine(directory, "edged.json"), json);
            await using var edged = await EdgedProcess.StartInAsync(directory);
            edged.KeepDirectory = true;
            await using var client = await EdgeClient.ConnectAsync(edged.SocketPath);
            var health = await client.HealthAsync();
            Assert.True(health.Status == "ok", string.Join("; ", health.Problems));
            Assert.Equal(ModelKinds.Language, (await client.InfoAsync("bitnet")).Kind);
            var hybrid = await client.InfoAsync("lfm2");
            Assert.Equal((ModelKinds.Language, "lfm2", "4 conv + 2 attention"), (hybrid.Kind, hybrid.Family, hybrid.Layers));

            // 2 attention layers × 2 KV heads × 48 × 256 positions × (key, value) + 4 conv layers × 192 channels × 2 columns, floats.
            Assert.Equal(((2L * 2 * 48 * 256 * 2) + (4L * 192 * 2)) * sizeof(float), hybrid.SessionStateBytes);
            Assert.Equal(0, health.Store!.LastId);
            Assert.Empty(health.Sensors);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
