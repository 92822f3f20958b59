using System.Globalization;
using System.Text.Json;
using EdgeRuntime.Pipelines.Mmedge;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Pipelines.Tests;

[Collection("mmedge")]
public sealed class MmedgePipelineTests(MmedgeFixture fixture) : IClassFixture<MmedgeFixture>
{
    private sealed record Expected(int Episode, int Full, int Skip, int AudioUnitsUsed);

    private static Expected[] ExpectedRows() =>
        [.. File.ReadAllLines(Path.Combine(MmedgeFixture.Episodes, "expected.csv")).Skip(1).Select(l => l.Split(',')).Select(f =>
            new Expected(int.Parse(f[0], CultureInfo.InvariantCulture), int.Parse(f[1], CultureInfo.InvariantCulture), int.Parse(f[2], CultureInfo.InvariantCulture), int.Parse(f[3], CultureInfo.InvariantCulture)))];

    [Fact]
    public async Task Reproduces_the_training_scripts_predictions_with_and_without_skipping()
    {
        // The same graphs, the same inputs read back from the committed files: the runtime's unitizer, aggregation
        // over prefixes, gate input order and checkpoints must all agree with the script for every episode.
        foreach (var row in ExpectedRows().Take(120))
        {
            var full = await fixture.RunAsync(row.Episode);
            var skipped = await fixture.RunAsync(row.Episode, skip: true);
            Assert.True(row.Full == full.Prediction, $"episode {row.Episode}: all units gave {full.Prediction}, the script {row.Full}");
            Assert.True(row.Skip == skipped.Prediction, $"episode {row.Episode}: with skipping gave {skipped.Prediction}, the script {row.Skip}");
            Assert.Equal(row.AudioUnitsUsed, skipped.Counts.Single(c => c.Modality == "audio").Encoded);
        }
    }

    [Fact]
    public async Task Fusion_scores_match_the_training_script_numerically()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(MmedgeFixture.Episodes, "expected_logits.json")));
        var episodes = ExpectedLogits(doc.RootElement);
        Assert.NotEmpty(episodes);
        foreach (var (episode, logits) in episodes)
        {
            var result = await fixture.RunAsync(episode);
            float max = logits.Max();
            double sum = logits.Sum(l => Math.Exp(l - max));
            for (int i = 0; i < logits.Length; i++)
            {
                Assert.Equal(Math.Exp(logits[i] - max) / sum, result.Scores[i], 3);
            }
        }
    }

    [Fact]
    public async Task Sequential_and_pipelined_runs_give_the_same_answer()
    {
        for (int episode = 0; episode < 10; episode++)
        {
            var sequential = await fixture.RunAsync(episode, sequential: true);
            var pipelined = await fixture.RunAsync(episode);
            Assert.Equal(sequential.Scores, pipelined.Scores);
            Assert.Equal("sequential", sequential.Mode);
            Assert.Equal(10, sequential.Counts.Single(c => c.Modality == "audio").Encoded);
        }
    }

    [Fact]
    public async Task Skipping_frees_the_slow_modalitys_sensing_and_encoding()
    {
        long before = fixture.Runs("audio_enc_large");
        int encodedWithout = 0;
        for (int episode = 0; episode < 40; episode++)
        {
            encodedWithout += (await fixture.RunAsync(episode)).Counts.Single(c => c.Modality == "audio").Encoded;
        }

        long between = fixture.Runs("audio_enc_large");
        int encodedWith = 0, skippedRuns = 0;
        for (int episode = 0; episode < 40; episode++)
        {
            var result = await fixture.RunAsync(episode, skip: true);
            var audio = result.Counts.Single(c => c.Modality == "audio");
            encodedWith += audio.Encoded;
            if (result.Checkpoints.Any(c => c.Skipped))
            {
                skippedRuns++;
                // The fast clock senses ahead of the encoder, so cut units may have been sensed ("dropped"); none of
                // them was encoded. (That they are not even sensed on a real clock is the simulated-clock test's.)
                int cutAt = result.Checkpoints.Single(c => c.Skipped).Units;
                Assert.Equal(cutAt, audio.Encoded);
                Assert.All(result.Units.Where(u => u.Modality == "audio" && u.Index >= cutAt), u => Assert.Contains(u.State, new[] { "skipped", "dropped" }));
                Assert.Equal(10, audio.Sensed + audio.Skipped);
            }
            else
            {
                Assert.Equal(10, audio.Encoded);
            }
        }

        long after = fixture.Runs("audio_enc_large");
        Assert.True(skippedRuns > 0, "the gate never cut in over 40 episodes");
        // The registry counts the encoder calls that actually ran: fewer with skipping, by exactly the skipped units.
        Assert.Equal(encodedWithout, between - before);
        Assert.Equal(encodedWith, after - between);
        Assert.True(encodedWith < encodedWithout);
    }

    [Fact]
    public async Task On_the_simulated_clock_each_unit_is_encoded_once_sensed_and_never_before()
    {
        var clock = new SimulatedClock();
        var counts = new RunCounter(fixture);
        var run = fixture.Pipeline.RunAsync(MmedgeFixture.Episode(7, clock), CancellationToken.None);
        await DriveAsync(clock, run, counts, skipAt: null);

        var result = await run.WaitAsync(TimeSpan.FromSeconds(20));
        foreach (var unit in result.Units.Where(u => u.State == "encoded"))
        {
            double nominal = unit.Modality == "audio" ? (unit.Index + 1) * 100 : (unit.Index + 1) * 62.5;
            Assert.Equal(nominal, unit.SensedMs, 6);
            // The clock does not move while the encoders work: each encoding starts the moment its unit is sensed.
            Assert.Equal(unit.SensedMs, unit.EncodeStartMs, 6);
        }

        Assert.Equal(1000, result.SensingEndMs, 6);
        Assert.Equal(0, result.PostSensingMs, 6);
        // Two modalities encoding concurrently on the pool still aggregate their units in order: same answer as a plain run.
        Assert.Equal((await fixture.RunAsync(7)).Scores, result.Scores);
    }

    [Fact]
    public async Task On_the_simulated_clock_a_skip_stops_sensing_the_slow_modality()
    {
        // An episode where the script's gate stops the audio after 5 of its 10 units.
        var row = ExpectedRows().First(r => r.AudioUnitsUsed == 5);
        var clock = new SimulatedClock();
        var counts = new RunCounter(fixture);
        var run = fixture.Pipeline.RunAsync(MmedgeFixture.Episode(row.Episode, clock, skip: true), CancellationToken.None);
        await DriveAsync(clock, run, counts, skipAt: 5);

        var result = await run.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(500, clock.NowMs);
        Assert.Equal(row.Skip, result.Prediction);
        var audio = result.Units.Where(u => u.Modality == "audio").ToArray();
        Assert.All(audio.Take(5), u => Assert.Equal("encoded", u.State));
        Assert.All(audio.Skip(5), u => Assert.Equal("skipped", u.State));
        Assert.Equal(new ModalityCount("audio", 5, 5, 5), result.Counts.Single(c => c.Modality == "audio"));
        Assert.Equal(5, counts.Audio);
        Assert.Equal(500, result.SensingEndMs, 6);
    }

    /// <summary>Encoder and gate calls counted by the registry since this run started.</summary>
    private sealed class RunCounter(MmedgeFixture fixture)
    {
        private readonly long _audio = fixture.Runs("audio_enc_large"), _vision = fixture.Runs("vision_enc_large"), _gate = fixture.Runs("gate");

        public long Audio => fixture.Runs("audio_enc_large") - _audio;

        public long Vision => fixture.Runs("vision_enc_large") - _vision;

        public long Gate => fixture.Runs("gate") - _gate;
    }

    /// <summary>
    /// Moves the clock to each moment a block is due (20 ms of audio, a 62.5 ms frame) and, before moving on, waits
    /// until everything sensed by then has been encoded (and, with skipping, each checkpoint reached has been
    /// decided), checking that nothing not yet sensed was. With <paramref name="skipAt"/>, the gate is expected to cut
    /// in after that many audio units: the run must then finish without the clock moving on.
    /// </summary>
    private static async Task DriveAsync(SimulatedClock clock, Task<PipelineResult> run, RunCounter counts, int? skipAt)
    {
        bool skip = skipAt is not null;
        double[] moments = [.. Enumerable.Range(1, 50).Select(i => i * 20.0).Concat(Enumerable.Range(1, 8).Select(k => k * 62.5)).Distinct().Order()];
        foreach (double now in moments)
        {
            if (run.IsCompleted)
            {
                break;
            }

            clock.AdvanceTo(now);
            int audioDue = (int)(now / 100);
            int visionDue = Math.Min(8, (int)(now / 62.5));
            int gatesDue = skip && visionDue == 8 ? new[] { 5, 7, 9 }.Count(k => k <= audioDue) : 0;
            await Eventually.TrueAsync(() => run.IsCompleted || (counts.Audio >= audioDue && counts.Vision >= visionDue && counts.Gate >= gatesDue), $"t={now} ms");
            Assert.True(counts.Audio <= audioDue, $"t={now} ms: {counts.Audio} audio units encoded, {audioDue} sensed");
            Assert.True(counts.Vision <= visionDue, $"t={now} ms: {counts.Vision} frames encoded, {visionDue} sensed");
            if (audioDue == skipAt && gatesDue > 0)
            {
                await run.WaitAsync(TimeSpan.FromSeconds(10));
                return;
            }
        }
    }

    [Fact]
    public async Task The_optimizer_keeps_to_the_budget_and_the_run_uses_its_choice()
    {
        var estimates = fixture.Pipeline.Estimates();
        Assert.Equal(16, estimates.Count);
        double fastest = estimates.Min(e => e.PredictedMs), slowest = estimates.Max(e => e.PredictedMs);
        for (double budget = fastest; budget <= slowest * 1.2; budget += (slowest - fastest) / 7)
        {
            var decision = fixture.Pipeline.Decide(budget);
            Assert.True(decision.WithinBudget);
            Assert.True(decision.PredictedMs <= budget);
            Assert.Equal(estimates.Where(e => e.PredictedMs <= budget).Max(e => e.PredictedAccuracy), decision.PredictedAccuracy);
        }

        var options = MmedgeFixture.Episode(1, new FastClock()) with { Configuration = null, BudgetMs = fastest * 0.25 };
        var result = await fixture.Pipeline.RunAsync(options, CancellationToken.None);
        Assert.False(result.WithinBudget);
        Assert.Contains("nothing fits", result.Decision);
        Assert.Equal(fixture.Pipeline.Decide(fastest * 0.25).Configuration, result.Configuration);

        double middle = (fastest + slowest) / 2;
        var fits = await fixture.Pipeline.RunAsync(options with { BudgetMs = middle }, CancellationToken.None);
        Assert.True(fits.WithinBudget);
        Assert.Equal(fixture.Pipeline.Decide(middle).Configuration, fits.Configuration);
    }

    [Fact]
    public async Task Drifting_latency_gets_the_table_profiled_again()
    {
        // Profiling afresh clears any drift the earlier tests' runs (on a busy machine) may have counted.
        await fixture.Pipeline.ProfileAsync(CancellationToken.None);
        int profiles = fixture.Pipeline.Profiles;
        foreach (var entry in fixture.Pipeline.Latency.Entries().Where(e => e.Model.Contains("_enc_", StringComparison.Ordinal)))
        {
            fixture.Pipeline.Latency[entry.Model, entry.UnitMs] = 1000;
        }

        // Drift is judged on real-time runs only: a fast clock piles every unit onto the encoders at once.
        for (int i = 0; i < MmedgePipeline.DriftRunsBeforeReprofile; i++)
        {
            await fixture.RunAsync(i, clock: new RealtimeClock());
        }

        Assert.Equal(profiles, fixture.Pipeline.Profiles);
        await fixture.RunAsync(0, clock: new RealtimeClock());
        Assert.Equal(profiles + 1, fixture.Pipeline.Profiles);
        Assert.All(fixture.Pipeline.Latency.Entries(), e => Assert.True(e.Ms < 1000));
    }

    [Fact]
    public async Task Bad_inputs_are_refused_with_reasons()
    {
        var missing = await Assert.ThrowsAsync<EdgeRuntimeException>(() => fixture.Pipeline.RunAsync(MmedgeFixture.Episode(0, new FastClock()) with { AudioPath = "/nonexistent/a.wav" }, CancellationToken.None));
        Assert.Equal(ErrorCodes.InvalidInput, missing.Code);
        Assert.Contains("/nonexistent/a.wav", missing.Message);

        var notAConfiguration = new PipelineConfiguration([new ModalityChoice("audio", "huge", 100, 1), new ModalityChoice("vision", "large", 62.5, 1)]);
        var bad = await Assert.ThrowsAsync<EdgeRuntimeException>(() => fixture.Pipeline.RunAsync(MmedgeFixture.Episode(0, new FastClock()) with { Configuration = notAConfiguration }, CancellationToken.None));
        Assert.Equal(ErrorCodes.BadRequest, bad.Code);

        string frames = Path.Combine(Path.GetTempPath(), $"frames-{Environment.ProcessId}.npy");
        EdgeRuntime.Formats.NpyFile.Write(frames, EdgeRuntime.Formats.Tensor.Float32("f", [3, 8, 8], new float[192]));
        try
        {
            var shape = await Assert.ThrowsAsync<EdgeRuntimeException>(() => fixture.Pipeline.RunAsync(MmedgeFixture.Episode(0, new FastClock()) with { FramesPath = frames }, CancellationToken.None));
            Assert.Contains("8 frames", shape.Message);
        }
        finally
        {
            File.Delete(frames);
        }
    }

    [Fact]
    public async Task A_csv_frame_series_replays_like_the_npy_it_was_written_from()
    {
        var frames = EdgeRuntime.Formats.NpyFile.Read(Path.Combine(MmedgeFixture.Episodes, "0004.npy")).ToArray<float>();
        string csv = Path.Combine(Path.GetTempPath(), $"frames-{Environment.ProcessId}.csv");
        File.WriteAllLines(csv, [string.Join(',', Enumerable.Range(0, 64).Select(i => $"p{i}")), .. frames.Chunk(64).Select(f => string.Join(',', f.Select(v => v.ToString("R", CultureInfo.InvariantCulture))))]);
        try
        {
            var fromCsv = await fixture.Pipeline.RunAsync(MmedgeFixture.Episode(4, new FastClock()) with { FramesPath = csv }, CancellationToken.None);
            Assert.Equal((await fixture.RunAsync(4)).Scores, fromCsv.Scores);
        }
        finally
        {
            File.Delete(csv);
        }
    }

    [Fact]
    public async Task A_folder_of_pgm_frames_replays_like_the_same_pixels_in_an_npy()
    {
        // Episode 4's frames as 8-bit pixels, once as eight pictures in a folder and once as a uint8 .npy.
        byte[] pixels = PgmFiles.Quantize(EdgeRuntime.Formats.NpyFile.Read(Path.Combine(MmedgeFixture.Episodes, "0004.npy")).ToArray<float>());
        string folder = Directory.CreateTempSubdirectory("frames-").FullName;
        string npy = Path.Combine(folder, "frames.npy");
        try
        {
            for (int f = 0; f < 8; f++)
            {
                PgmFiles.Write(Path.Combine(folder, $"{f:000}.pgm"), 8, 8, pixels.AsSpan(f * 64, 64));
            }

            // A file that is not a picture is not a frame.
            File.WriteAllText(Path.Combine(folder, "README.txt"), "episode 4");
            EdgeRuntime.Formats.NpyFile.Write(npy, EdgeRuntime.Formats.Tensor.FromSpan<byte>("frames", TensorDType.UInt8, [8, 8, 8], pixels));

            var fromFolder = await fixture.Pipeline.RunAsync(MmedgeFixture.Episode(4, new FastClock()) with { FramesPath = folder }, CancellationToken.None);
            var fromNpy = await fixture.Pipeline.RunAsync(MmedgeFixture.Episode(4, new FastClock()) with { FramesPath = npy }, CancellationToken.None);
            Assert.Equal(fromNpy.Scores, fromFolder.Scores);
            Assert.Equal(fromNpy.Prediction, fromFolder.Prediction);

            // Name order is frame order: swapping two pictures changes what the vision encoder sees.
            File.Move(Path.Combine(folder, "000.pgm"), Path.Combine(folder, "tmp.pgm"));
            File.Move(Path.Combine(folder, "007.pgm"), Path.Combine(folder, "000.pgm"));
            File.Move(Path.Combine(folder, "tmp.pgm"), Path.Combine(folder, "007.pgm"));
            var swapped = await fixture.Pipeline.RunAsync(MmedgeFixture.Episode(4, new FastClock()) with { FramesPath = folder }, CancellationToken.None);
            Assert.NotEqual(fromNpy.Scores, swapped.Scores);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task A_frame_folder_with_a_frame_missing_or_the_wrong_size_is_refused_naming_it()
    {
        string folder = Directory.CreateTempSubdirectory("frames-").FullName;
        try
        {
            for (int f = 0; f < 7; f++)
            {
                PgmFiles.Write(Path.Combine(folder, $"{f:000}.pgm"), 8, 8, new byte[64]);
            }

            var missing = await Assert.ThrowsAsync<EdgeRuntimeException>(() => fixture.Pipeline.RunAsync(MmedgeFixture.Episode(0, new FastClock()) with { FramesPath = folder }, CancellationToken.None));
            Assert.Equal(ErrorCodes.InvalidInput, missing.Code);
            Assert.Contains("7 .pgm/.ppm frames; the models take 8", missing.Message, StringComparison.Ordinal);
            Assert.Contains(folder, missing.Message, StringComparison.Ordinal);

            PgmFiles.Write(Path.Combine(folder, "007.pgm"), 9, 8, new byte[72]);
            var size = await Assert.ThrowsAsync<EdgeRuntimeException>(() => fixture.Pipeline.RunAsync(MmedgeFixture.Episode(0, new FastClock()) with { FramesPath = folder }, CancellationToken.None));
            Assert.Equal(ErrorCodes.InvalidInput, size.Code);
            Assert.Contains("007.pgm is 9x8; a frame has 64 pixels", size.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task On_the_fast_clock_units_are_stamped_at_release_so_post_sensing_latency_is_the_compute_after_it()
    {
        var result = await fixture.Pipeline.RunAsync(MmedgeFixture.Episode(3, new FastClock(), skip: true), CancellationToken.None);
        Assert.True(result.PostSensingMs >= 0, $"post-sensing {result.PostSensingMs} ms");
        // The end of sensing is the latest release among the units used, as the timeline shows them.
        Assert.Equal(result.Units.Where(u => u.State == "encoded").Max(u => u.SensedMs), result.SensingEndMs, 9);
        Assert.All(result.Units.Where(u => u.State == "encoded"), u => Assert.True(u.EncodeStartMs >= u.SensedMs, $"{u.Modality} unit {u.Index} encoded at {u.EncodeStartMs} ms, sensed at {u.SensedMs} ms"));
    }

    [Fact]
    public void The_fast_clock_never_waits_for_the_recordings_pace()
    {
        // Units are released as fast as the encoders take them, never at their recorded offsets: every wait completes
        // at once, however far ahead it asks for. (A wall-clock bound on a whole run said the same thing less surely:
        // a loaded machine once took 1.2 s to encode a 1 s recording flat out.)
        var clock = new FastClock();
        Assert.True(clock.DelayUntilAsync(3_600_000, CancellationToken.None).IsCompletedSuccessfully);
        Assert.True(clock.NowMs < 3_600_000);
    }

    [Fact]
    public void A_request_input_replaces_the_configured_input_of_its_name_and_keeps_the_others()
    {
        var definition = new PipelineDefinition("digits", "mmedge", "mmedge.json") { Inputs = new() { ["audio"] = PipelineInput.FromPath("/replay/a.wav"), ["vision"] = PipelineInput.FromPath("/replay/v.npy") } };
        var inputs = PipelineInputs.For(definition, new PipelineRunRequest("digits") { Inputs = new() { ["vision"] = PipelineInput.FromSensor("cam") } });
        Assert.Equal(new Dictionary<string, PipelineInput> { ["audio"] = PipelineInput.FromPath("/replay/a.wav"), ["vision"] = PipelineInput.FromSensor("cam") }, inputs);
        Assert.Equal("/replay/v.npy", definition.Inputs["vision"].Path);
        Assert.Equal(definition.Inputs, PipelineInputs.For(definition, new PipelineRunRequest("digits")));
    }

    private static (int Episode, float[] Logits)[] ExpectedLogits(JsonElement root) =>
        [.. root.GetProperty("episodes").EnumerateArray().Select(e => (e.GetProperty("episode").GetInt32(), e.GetProperty("logits").EnumerateArray().Select(v => v.GetSingle()).ToArray()))];
}
