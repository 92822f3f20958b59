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
                // Cut units were never sensed, let alone encoded; the timeline says so unit by unit.
                var cut = result.Units.Where(u => u.Modality == "audio" && u.State == "skipped").ToArray();
                Assert.NotEmpty(cut);
                Assert.Equal(10, audio.Sensed + audio.Skipped);
                Assert.All(cut, u => Assert.True(u.Index >= result.Checkpoints.Single(c => c.Skipped).Units));
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
        long audioBefore = fixture.Runs("audio_enc_large"), visionBefore = fixture.Runs("vision_enc_large");
        var run = fixture.Pipeline.RunAsync(MmedgeFixture.Episode(7, clock), CancellationToken.None);
        for (double now = 10; now <= 1000; now += 10)
        {
            clock.AdvanceTo(now);
            int audioDue = (int)(now / 100);
            int visionDue = Math.Min(8, (int)(now / 62.5));
            // Everything sensed by now gets encoded without the clock moving on; nothing not yet sensed is.
            await WaitUntilAsync(() => fixture.Runs("audio_enc_large") - audioBefore >= audioDue && fixture.Runs("vision_enc_large") - visionBefore >= visionDue, $"t={now} ms");
            Assert.Equal(audioDue, fixture.Runs("audio_enc_large") - audioBefore);
            Assert.Equal(visionDue, fixture.Runs("vision_enc_large") - visionBefore);
        }

        var result = await run.WaitAsync(TimeSpan.FromSeconds(20));
        foreach (var unit in result.Units.Where(u => u.State == "encoded"))
        {
            double nominal = unit.Modality == "audio" ? (unit.Index + 1) * 100 : (unit.Index + 1) * 62.5;
            Assert.Equal(nominal, unit.SensedMs, 6);
            Assert.True(unit.EncodeStartMs >= unit.SensedMs);
        }

        Assert.Equal(1000, result.SensingEndMs, 6);
        Assert.Equal(0, result.PostSensingMs, 6);
        // Two modalities encoding concurrently on the pool still aggregate their units in order: same answer as a plain run.
        Assert.Equal((await fixture.RunAsync(7)).Scores, result.Scores);
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
        int profiles = fixture.Pipeline.Profiles;
        foreach (var entry in fixture.Pipeline.Latency.Entries().Where(e => e.Model.Contains("_enc_", StringComparison.Ordinal)))
        {
            fixture.Pipeline.Latency[entry.Model, entry.UnitMs] = 1000;
        }

        for (int i = 0; i < MmedgePipeline.DriftRunsBeforeReprofile; i++)
        {
            await fixture.RunAsync(i);
        }

        Assert.Equal(profiles, fixture.Pipeline.Profiles);
        await fixture.RunAsync(0);
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
        EdgeRuntime.Client.NpyFile.Write(frames, EdgeRuntime.Client.Tensor.Float32("f", [3, 8, 8], new float[192]));
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
        var frames = EdgeRuntime.Client.NpyFile.Read(Path.Combine(MmedgeFixture.Episodes, "0004.npy")).ToArray<float>();
        string csv = Path.Combine(Path.GetTempPath(), $"frames-{Environment.ProcessId}.csv");
        File.WriteAllLines(csv, ["p0,...", .. frames.Chunk(64).Select(f => string.Join(',', f.Select(v => v.ToString("R", CultureInfo.InvariantCulture))))]);
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

    private static (int Episode, float[] Logits)[] ExpectedLogits(JsonElement root)
    {
        // {"0": [..10 floats..], ...} or [{"episode": 0, "logits": [...]}, ...]
        if (root.ValueKind == JsonValueKind.Object)
        {
            return [.. root.EnumerateObject().Where(p => p.Value.ValueKind == JsonValueKind.Array).Select(p => (int.Parse(p.Name, CultureInfo.InvariantCulture), p.Value.EnumerateArray().Select(v => v.GetSingle()).ToArray()))];
        }

        return [.. root.EnumerateArray().Select(e => (e.GetProperty("episode").GetInt32(), e.GetProperty("logits").EnumerateArray().Select(v => v.GetSingle()).ToArray()))];
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting at {what}");
            await Task.Delay(2);
        }
    }
}
