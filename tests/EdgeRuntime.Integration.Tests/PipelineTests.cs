using System.Text.Json;
using System.Xml.Linq;
using EdgeRuntime.Client;
using EdgeRuntime.Inference;
using EdgeRuntime.Pipelines;
using EdgeRuntime.Pipelines.Cbnet;
using EdgeRuntime.Pipelines.Mmedge;
using EdgeRuntime.Protocol;
using EdgeRuntime.Formats;
using EdgeRuntime.Evaluation;

namespace EdgeRuntime.Integration.Tests;

/// <summary>Pipelines in the published edged: over the socket, as subscribers see them, and through edgectl.</summary>
public sealed class PipelineTests
{
    private static string Models => Path.Combine(Paths.RepositoryRoot, "models");

    private static string Episodes => Path.Combine(Paths.RepositoryRoot, "samples", "mmedge", "test");

    private static string FashionImages => Path.Combine(Paths.RepositoryRoot, "samples", "cbnet", "test_images_1000.npy");

    private static readonly PipelineConfiguration Reference =
        new([new ModalityChoice("audio", "large", 100, 1), new ModalityChoice("vision", "large", 62.5, 1)]);

    private static string Config => $$"""
        "store": { "path": "results" },
        "pipelines": [
          { "name": "digits", "kind": "mmedge", "manifest": "{{Path.Combine(Models, "mmedge", "mmedge.json")}}", "clock": "fast" },
          { "name": "fashion", "kind": "cbnet", "manifest": "{{Path.Combine(Models, "cbnet", "cbnet.json")}}" }
        ]
        """;

    private static Dictionary<string, PipelineInput> Episode(int episode) => new()
    {
        ["audio"] = PipelineInput.FromPath(Path.Combine(Episodes, $"{episode:0000}.wav")),
        ["vision"] = PipelineInput.FromPath(Path.Combine(Episodes, $"{episode:0000}.npy")),
    };

    [Fact]
    public async Task A_pipeline_over_the_socket_gives_the_same_results_as_in_process_and_reaches_subscribers()
    {
        // In-process: the same committed models through the same registry/scheduler code, on the CPU provider.
        var options = new InferenceOptions { IntraOpThreads = 1, Workers = 2 };
        using var registry = new ModelRegistry(Models, options);
        using var scheduler = new InferenceScheduler(options);
        var invoker = new ModelInvoker(registry, scheduler);
        var local = await MmedgePipeline.LoadAsync(new PipelineDefinition("local", "mmedge", "mmedge/mmedge.json"), Path.Combine(Models, "mmedge", "mmedge.json"), invoker, null, CancellationToken.None);
        var cascade = await CbnetCascade.LoadAsync("local-fashion", Path.Combine(Models, "cbnet", "cbnet.json"), invoker, null, CancellationToken.None);

        await using var edged = await EdgedProcess.StartAsync(Config);
        await using var client = await EdgeClient.ConnectAsync(edged.SocketPath);
        await using var subscription = await client.SubscribeAsync(new SubscribeRequest(Since: 0, Triggers: ["digits"]));
        var listed = await client.PipelinesAsync();
        Assert.Equal(["digits", "fashion"], listed.Select(p => p.Name));
        Assert.Equal(1, listed[0].Profiles);
        // Every model profiled at load (2 audio encoders × 2 unit sizes, 2 audio and 2 vision aggregators, 2 vision
        // encoders, fusion, gate), beside the learned overhead entry, which is always listed.
        var profiled = listed[0].LatencyTable.Where(e => !e.Model.StartsWith("overhead", StringComparison.Ordinal)).ToArray();
        Assert.Equal(12, profiled.Length);
        Assert.All(profiled, e => Assert.True(e.Ms > 0, $"{e.Model} at {e.UnitMs} ms: {e.Ms} ms"));

        for (int episode = 0; episode < 6; episode++)
        {
            foreach (bool skip in new[] { false, true })
            {
                var remote = await client.RunPipelineAsync(new PipelineRunRequest("digits") { Inputs = Episode(episode), Skip = skip, Configuration = Reference });
                var expected = await local.RunAsync(
                    new MmedgeRunOptions(Episode(episode)["audio"].Path, Episode(episode)["vision"].Path, new FastClock()) { Skip = skip, Configuration = Reference },
                    CancellationToken.None);
                Assert.Equal(expected.Prediction, remote.Result.Prediction);
                Assert.Equal(expected.Scores, remote.Result.Scores);
                Assert.Equal(expected.Counts, remote.Result.Counts);
                Assert.Equal(expected.Checkpoints.Select(c => (c.Units, c.SkipProbability, c.Skipped)), remote.Result.Checkpoints.Select(c => (c.Units, c.SkipProbability, c.Skipped)));

                // The stored event a subscriber gets is the answer the caller got.
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                var stored = await subscription.ReadAsync(timeout.Token);
                Assert.Equal(remote.Id, stored.Event.Id);
                Assert.Equal(
                    JsonSerializer.Serialize(remote.Result, ProtocolJsonContext.Default.PipelineResult),
                    JsonSerializer.Serialize(stored.Event.Pipeline!, ProtocolJsonContext.Default.PipelineResult));
                Assert.Equal(remote.Result.Scores, stored["scores"].ToArray<float>());
            }
        }

        foreach (int index in new[] { 0, 5, 17 })
        {
            var remote = await client.RunPipelineAsync(new PipelineRunRequest("fashion") { Inputs = new() { ["image"] = PipelineInput.FromPath(FashionImages) }, Index = index });
            var images = FashionMnist.ReadNpy(FashionImages, Path.Combine(Paths.RepositoryRoot, "samples", "cbnet", "test_labels_1000.npy"));
            var expected = await cascade.RunAsync(FashionMnist.ToInput(images.Image(index)), "cascade", gate: true, CancellationToken.None);
            Assert.Equal(expected.Prediction, remote.Result.Prediction);
            Assert.Equal(expected.Scores, remote.Result.Scores);
            Assert.Equal(expected.Path, remote.Result.Path);
        }
    }

    [Fact]
    public async Task Pipeline_errors_are_clear()
    {
        await using var edged = await EdgedProcess.StartAsync(Config);
        await using var client = await EdgeClient.ConnectAsync(edged.SocketPath);

        var unknown = await Assert.ThrowsAsync<EdgeRuntimeException>(() => client.RunPipelineAsync(new PipelineRunRequest("nope")));
        Assert.Equal(ErrorCodes.UnknownPipeline, unknown.Code);
        Assert.Contains("digits", unknown.Message);

        var noInput = await Assert.ThrowsAsync<EdgeRuntimeException>(() => client.RunPipelineAsync(new PipelineRunRequest("digits")));
        Assert.Equal(ErrorCodes.BadRequest, noInput.Code);
        Assert.Contains("'audio'", noInput.Message);

        var badMode = await Assert.ThrowsAsync<EdgeRuntimeException>(() => client.RunPipelineAsync(new PipelineRunRequest("digits") { Inputs = Episode(0), Mode = "backwards" }));
        Assert.Equal(ErrorCodes.BadRequest, badMode.Code);

        var noManifest = await Assert.ThrowsAsync<EdgeRuntimeException>(() => client.LoadPipelineAsync(new PipelineDefinition("other", "mmedge", "missing/mmedge.json")));
        Assert.Equal(ErrorCodes.BadRequest, noManifest.Code);
        Assert.Contains("missing/mmedge.json", noManifest.Message);

        // A definition loaded over the socket meets the configuration file's rules, not a failure on every run.
        var badClock = await Assert.ThrowsAsync<EdgeRuntimeException>(() => client.LoadPipelineAsync(new PipelineDefinition("slow", "mmedge", Path.Combine(Models, "mmedge", "mmedge.json")) { Clock = "slow" }));
        Assert.Equal(ErrorCodes.BadRequest, badClock.Code);
        Assert.Contains("\"clock\" must be 'realtime' or 'fast'", badClock.Message);
        Assert.DoesNotContain("slow", (await client.PipelinesAsync()).Select(p => p.Name));

        // Loaded over the socket, it runs like a configured one.
        var loaded = await client.LoadPipelineAsync(new PipelineDefinition("again", "cbnet", Path.Combine(Models, "cbnet", "cbnet.json")) { Gate = false });
        Assert.Equal("cbnet", loaded.Kind);
        var run = await client.RunPipelineAsync(new PipelineRunRequest("again") { Inputs = new() { ["image"] = PipelineInput.FromPath(FashionImages) }, Index = 3, Mode = "light" });
        Assert.Equal("light", run.Result.Mode);
    }

    [Fact]
    public async Task Edgectl_runs_a_pipeline_watches_its_results_and_draws_the_timeline()
    {
        await using var edged = await EdgedProcess.StartAsync(Config);
        var episode = Episode(2);

        var run = await edged.EdgectlAsync("--json", "run", "digits", "--input", "audio=" + episode["audio"].Path, "--input", "vision=" + episode["vision"].Path, "--config", "audio=large:100,vision=large:/1", "--skip");
        Assert.True(run.ExitCode == 0, run.All);
        var response = JsonSerializer.Deserialize(run.Stdout, ProtocolJsonContext.Default.PipelineRunResponse)!;
        Assert.Equal("pipelined+skip", response.Result.Mode);
        Assert.Equal(1, response.Id);

        var human = await edged.EdgectlAsync("run", "fashion", "--input", "image=" + FashionImages, "--index", "7", "--mode", "full");
        Assert.True(human.ExitCode == 0, human.All);
        Assert.Contains("prediction", human.Stdout);

        var watch = await edged.EdgectlAsync("watch", "digits", "--since", "0", "--count", "1", "--timeout", "30");
        Assert.True(watch.ExitCode == 0, watch.All);
        Assert.Contains($"prediction {response.Result.Prediction}", watch.Stdout);
        Assert.DoesNotContain("fashion", watch.Stdout);

        string svg = Path.Combine(edged.Directory, "digits.svg");
        var timeline = await edged.EdgectlAsync("timeline", "digits", "--out", svg);
        Assert.True(timeline.ExitCode == 0, timeline.All);
        var drawing = XDocument.Load(svg);
        int encoded = response.Result.Counts.Sum(c => c.Encoded);
        Assert.Equal(encoded, drawing.Descendants().Count(e => ((string?)e.Attribute("class"))?.Split(' ').Contains("encoded") == true && e.Name.LocalName == "rect"));

        var listed = await edged.EdgectlAsync("pipelines");
        Assert.True(listed.ExitCode == 0, listed.All);
        Assert.Contains("digits", listed.Stdout);
        Assert.Contains("fashion", listed.Stdout);

        var bad = await edged.EdgectlAsync("run", "digits", "--config", "audio=enormous");
        Assert.Equal(2, bad.ExitCode);

        // Frames as a folder of pictures: the same answer as the same 8-bit pixels in an .npy.
        byte[] pixels = [.. NpyFile.Read(episode["vision"].Path!).ToArray<float>().Select(v => (byte)Math.Clamp(MathF.Round(v * 255f), 0f, 255f))];
        string frames = Directory.CreateDirectory(Path.Combine(edged.Directory, "frames")).FullName;
        for (int f = 0; f < 8; f++)
        {
            File.WriteAllBytes(Path.Combine(frames, $"{f:000}.pgm"), [.. "P5 8 8 255\n"u8, .. pixels.AsSpan(f * 64, 64)]);
        }

        string npy = Path.Combine(edged.Directory, "frames.npy");
        NpyFile.Write(npy, Tensor.FromSpan<byte>("frames", TensorDType.UInt8, [8, 8, 8], pixels));
        var fromFolder = await edged.EdgectlAsync("--json", "run", "digits", "--input", "audio=" + episode["audio"].Path, "--input", "vision=" + frames, "--config", "audio=large:100,vision=large:/1");
        var fromNpy = await edged.EdgectlAsync("--json", "run", "digits", "--input", "audio=" + episode["audio"].Path, "--input", "vision=" + npy, "--config", "audio=large:100,vision=large:/1");
        Assert.True(fromFolder.ExitCode == 0, fromFolder.All);
        Assert.True(fromNpy.ExitCode == 0, fromNpy.All);
        Assert.Equal(
            JsonSerializer.Deserialize(fromNpy.Stdout, ProtocolJsonContext.Default.PipelineRunResponse)!.Result.Scores,
            JsonSerializer.Deserialize(fromFolder.Stdout, ProtocolJsonContext.Default.PipelineRunResponse)!.Result.Scores);
    }

    [Fact]
    public async Task A_recording_replayed_as_live_sensors_gives_the_answers_of_the_same_recording_as_files()
    {
        // One episode as the daemon's sensors: its WAV as a microphone, its frames as a camera at 16 frames a second.
        const int episode = 11;
        string wav = Path.Combine(Episodes, $"{episode:0000}.wav");
        string frames = Directory.CreateTempSubdirectory("edged-live-frames-").FullName;
        try
        {
            float[] pixels = NpyFile.Read(Path.Combine(Episodes, $"{episode:0000}.npy")).ToArray<float>();
            for (int f = 0; f < 8; f++)
            {
                byte[] frame = [.. pixels.Skip(f * 64).Take(64).Select(v => (byte)Math.Clamp(MathF.Round(v * 255f), 0f, 255f))];
                await File.WriteAllBytesAsync(Path.Combine(frames, $"{f:000}.pgm"), [.. System.Text.Encoding.ASCII.GetBytes("P5\n8 8\n255\n"), .. frame]);
            }

            string config = $$"""
                "store": { "path": "results" },
                "sensors": [
                  { "name": "mic", "type": "wav", "path": "{{wav}}", "sampleRate": 8000, "chunkSamples": 160, "bufferMs": 30000 },
                  { "name": "cam", "type": "images", "path": "{{frames}}", "sampleHz": 16, "bufferMs": 30000 }
                ],
                "pipelines": [
                  { "name": "digits", "kind": "mmedge", "manifest": "{{Path.Combine(Models, "mmedge", "mmedge.json")}}", "clock": "fast" },
                  { "name": "live", "kind": "mmedge", "manifest": "{{Path.Combine(Models, "mmedge", "mmedge.json")}}",
                    "inputs": { "audio": { "sensor": "mic" }, "vision": { "sensor": "cam" } } }
                ]
                """;
            await using var edged = await EdgedProcess.StartAsync(config);
            await using var client = await EdgeClient.ConnectAsync(edged.SocketPath);

            // The sensors started with the daemon; a window 30 s back reaches past their first sample, so the live run
            // begins where the recordings begin, with what the rings already hold, then follows the live stream.
            var run = await edged.EdgectlAsync("--json", "run", "live", "--live", "--pre-ms", "30000", "--config", "audio=large:100,vision=large:/1", "--skip");
            Assert.True(run.ExitCode == 0, run.Stderr);
            var live = JsonSerializer.Deserialize(run.Stdout, ProtocolJsonContext.Default.PipelineRunResponse)!.Result;
            var files = (await client.RunPipelineAsync(new PipelineRunRequest("digits")
            {
                Inputs = new() { ["audio"] = PipelineInput.FromPath(wav), ["vision"] = PipelineInput.FromPath(frames) },
                Skip = true,
                Configuration = Reference,
            })).Result;

            Assert.Equal(files.Prediction, live.Prediction);
            Assert.Equal(files.Scores, live.Scores);
            Assert.Equal(
                files.Units.Where(u => u.State == "encoded").Select(u => (u.Modality, u.Index)),
                live.Units.Where(u => u.State == "encoded").Select(u => (u.Modality, u.Index)));
            Assert.Equal(["mic", "cam"], live.Live.Select(l => l.Sensor));

            // A file pipeline has no window before now, and --live refuses a pipeline whose inputs are files.
            var refused = await edged.EdgectlAsync("run", "digits", "--live", "--input", "audio=" + wav, "--input", "vision=" + frames);
            Assert.Equal(1, refused.ExitCode);
            Assert.Contains("bad_request: Pipeline 'digits': a live run reads every input from a sensor", refused.Stderr, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(frames, recursive: true);
        }
    }
}
