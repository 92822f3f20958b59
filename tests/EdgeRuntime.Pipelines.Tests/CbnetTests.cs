using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;
using System.Text.Json;
using EdgeRuntime.Inference;
using EdgeRuntime.Inference.Providers;
using EdgeRuntime.Pipelines.Cbnet;
using EdgeRuntime.Protocol;
using EdgeRuntime.Evaluation;

namespace EdgeRuntime.Pipelines.Tests;

/// <summary>The committed CBNet models loaded once on the CPU provider, with the committed test images.</summary>
public sealed class CbnetFixture : IAsyncLifetime
{
    public const string Pipeline = "cbnet-test";

    public static string ManifestPath => Path.Combine(Repository.Models, "cbnet", "cbnet.json");

    public ModelRegistry Registry { get; private set; } = null!;

    public ModelInvoker Invoker { get; private set; } = null!;

    public CbnetCascade Cascade { get; private set; } = null!;

    public LabeledImages Images { get; } = FashionMnist.ReadNpy(
        Path.Combine(Repository.Samples, "cbnet", "test_images_1000.npy"),
        Path.Combine(Repository.Samples, "cbnet", "test_labels_1000.npy"));

    private InferenceScheduler _scheduler = null!;

    public async Task InitializeAsync()
    {
        var options = new InferenceOptions { IntraOpThreads = 1, Workers = 1, ProbePlacement = false };
        Registry = new ModelRegistry(Path.Combine(Repository.Models, "cbnet"), options);
        _scheduler = new InferenceScheduler(options);
        Invoker = new ModelInvoker(Registry, _scheduler);
        Cascade = await CbnetCascade.LoadAsync(Pipeline, ManifestPath, Invoker, [ProviderNames.Cpu], CancellationToken.None);
    }

    public Task DisposeAsync()
    {
        _scheduler.Dispose();
        Registry.Dispose();
        return Task.CompletedTask;
    }

    public float[] Input(int index) => FashionMnist.ToInput(Images.Image(index));

    public Task<PipelineResult> RunAsync(int index, string mode, bool gate = false) =>
        Cascade.RunAsync(Input(index), mode, gate, CancellationToken.None);

    /// <summary>How many successful runs the registry has counted for one of the cascade's models.</summary>
    public long Runs(string role)
    {
        Assert.True(Registry.TryGet(CbnetCascade.ModelName(Pipeline, role), out var model));
        return model.Latency.Snapshot().Count;
    }
}

public sealed class CbnetTests(CbnetFixture fixture) : IClassFixture<CbnetFixture>
{
    private const int ReproducedImages = 300;

    [Fact]
    public async Task Full_light_and_cascade_reproduce_the_python_models_predictions()
    {
        var expected = ReadExpected(Path.Combine(Repository.Samples, "cbnet", "expected.csv"));
        Assert.True(expected.Count >= ReproducedImages, $"expected.csv has {expected.Count} rows");
        var mismatches = new List<string>();
        for (int i = 0; i < ReproducedImages; i++)
        {
            // Argmax is taken on the logits on both sides; float noise between PyTorch and ONNX Runtime could only
            // flip a prediction whose top two logits are within ~1e-6 of each other, which these images do not have.
            foreach (var (column, mode) in new[] { ("full", "full"), ("light", "light"), ("cbnet", "cascade") })
            {
                var result = await fixture.RunAsync(i, mode);
                if (result.Prediction != expected[i][column])
                {
                    mismatches.Add($"image {i} {mode}: {result.Prediction}, Python {expected[i][column]}");
                }
            }
        }

        Assert.Empty(mismatches);
    }

    [Fact]
    public async Task The_gate_runs_the_full_model_exactly_when_the_cascade_is_unsure()
    {
        double threshold = fixture.Cascade.GateThreshold;
        int fallbacks = 0;
        for (int i = 0; i < fixture.Images.Count; i++)
        {
            var ungated = await fixture.RunAsync(i, "cascade");
            long fullRuns = fixture.Runs("full");
            var gated = await fixture.RunAsync(i, "cascade", gate: true);
            long fullRunsByGate = fixture.Runs("full") - fullRuns;

            if (ungated.Confidence < threshold)
            {
                fallbacks++;
                var full = await fixture.RunAsync(i, "full");
                Assert.Equal("fallback", gated.Path);
                Assert.Equal(1, fullRunsByGate);
                Assert.Equal(full.Prediction, gated.Prediction);
                Assert.Equal(full.Confidence, gated.Confidence);
                Assert.Equal(["autoencoder", "light", "full"], gated.Stages.Select(s => s.Name));
            }
            else
            {
                Assert.Equal("cascade", gated.Path);
                Assert.Equal(0, fullRunsByGate);
                Assert.Equal(ungated.Prediction, gated.Prediction);
                Assert.Equal(ungated.Confidence, gated.Confidence);
                Assert.Equal(["autoencoder", "light"], gated.Stages.Select(s => s.Name));
            }

            CheckResult(gated, "cascade");
        }

        // Both branches must have been taken, or the checks above tested only one of them.
        Assert.InRange(fallbacks, 1, fixture.Images.Count - 1);
    }

    [Fact]
    public async Task Early_exit_answers_at_stage_one_exactly_when_it_is_confident()
    {
        string stage1 = CbnetCascade.ModelName(CbnetFixture.Pipeline, "exit1");
        string stage2 = CbnetCascade.ModelName(CbnetFixture.Pipeline, "exit2");
        int exits = 0;
        for (int i = 0; i < fixture.Images.Count; i++)
        {
            var result = await fixture.RunAsync(i, "early-exit");

            // The reference: the two stages called directly.
            var outputs = await fixture.Invoker.RunAsync(stage1, [("image", new FloatTensor(fixture.Input(i), [1, 1, 28, 28]))], CancellationToken.None);
            float[] exitLogits = outputs["exit_logits"].Data;
            double exitConfidence = Softmax(exitLogits).Max();
            if (exitConfidence >= fixture.Cascade.ExitThreshold)
            {
                exits++;
                Assert.Equal("exit", result.Path);
                Assert.Equal(ArgMax(exitLogits), result.Prediction);
                Assert.Equal(exitConfidence, result.Confidence!.Value, 1e-6);
                Assert.Equal(["exit-stage1"], result.Stages.Select(s => s.Name));
            }
            else
            {
                float[] logits = (await fixture.Invoker.RunAsync(stage2, [("features", outputs["features"])], CancellationToken.None))["logits"].Data;
                Assert.Equal("no-exit", result.Path);
                Assert.Equal(ArgMax(logits), result.Prediction);
                Assert.Equal(Softmax(logits).Max(), result.Confidence!.Value, 1e-6);
                Assert.Equal(["exit-stage1", "exit-stage2"], result.Stages.Select(s => s.Name));
            }

            CheckResult(result, "early-exit");
        }

        Assert.InRange(exits, 1, fixture.Images.Count - 1);
    }

    [Fact]
    public async Task Accuracy_on_the_committed_images_is_near_what_training_measured()
    {
        var reported = fixture.Cascade.Manifest.TestAccuracy;
        Assert.NotNull(reported);
        var cases = new (string Name, string Mode, bool Gate, double Reported)[]
        {
            ("full", "full", false, reported.Full),
            ("light", "light", false, reported.Light),
            ("cbnet", "cascade", false, reported.Cbnet),
            ("cbnetGated", "cascade", true, reported.CbnetGated),
            ("earlyExit", "early-exit", false, reported.EarlyExit),
        };

        var off = new List<string>();
        foreach (var (name, mode, gate, expected) in cases)
        {
            int correct = 0;
            for (int i = 0; i < fixture.Images.Count; i++)
            {
                correct += (await fixture.RunAsync(i, mode, gate)).Prediction == fixture.Images.Labels[i] ? 1 : 0;
            }

            // The manifest's fractions are over the whole 10 000-image test split; on a 1 000-image subset a binomial
            // standard error is about 1 point, so 3 points is wide enough for sampling and narrow enough to catch a
            // wrong model, wrong input scaling or a broken gate (each costs far more).
            double accuracy = 100.0 * correct / fixture.Images.Count;
            if (Math.Abs(accuracy - (100 * expected)) > 3)
            {
                off.Add(string.Create(CultureInfo.InvariantCulture, $"{name}: {accuracy:0.0}% here, {100 * expected:0.0}% in the manifest"));
            }
        }

        Assert.Empty(off);
    }

    [Fact]
    public async Task A_bad_mode_or_a_wrong_image_size_is_a_bad_request()
    {
        var mode = await Assert.ThrowsAsync<EdgeRuntimeException>(() => fixture.Cascade.RunAsync(fixture.Input(0), "fastest", gate: false, CancellationToken.None));
        Assert.Equal(ErrorCodes.BadRequest, mode.Code);
        Assert.Contains("'fastest'", mode.Message, StringComparison.Ordinal);
        Assert.Contains("cascade, full, light, early-exit", mode.Message, StringComparison.Ordinal);

        var size = await Assert.ThrowsAsync<EdgeRuntimeException>(() => fixture.Cascade.RunAsync(new float[28 * 27], "cascade", gate: true, CancellationToken.None));
        Assert.Equal(ErrorCodes.BadRequest, size.Code);
        Assert.Contains("756", size.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_pgm_picture_is_classified_like_the_same_image_picked_from_the_npy()
    {
        var definition = new PipelineDefinition(CbnetFixture.Pipeline, CbnetCascade.Kind, CbnetFixture.ManifestPath);
        var pipeline = await CbnetPipeline.LoadAsync(definition, CbnetFixture.ManifestPath, fixture.Invoker, [ProviderNames.Cpu], CancellationToken.None);
        string npy = Path.Combine(Repository.Samples, "cbnet", "test_images_1000.npy");
        string folder = Directory.CreateTempSubdirectory("cbnet-").FullName;
        try
        {
            foreach (int index in new[] { 0, 1, 2, 17 })
            {
                string pgm = Path.Combine(folder, $"{index}.pgm");
                PgmFiles.Write(pgm, 28, 28, fixture.Images.Image(index));
                var fromPicture = await pipeline.RunAsync(new PipelineRunRequest(definition.Name) { Inputs = new() { ["image"] = PipelineInput.FromPath(pgm) } }, folder, CancellationToken.None);
                var fromNpy = await pipeline.RunAsync(new PipelineRunRequest(definition.Name) { Inputs = new() { ["image"] = PipelineInput.FromPath(npy) }, Index = index }, folder, CancellationToken.None);
                Assert.Equal(fromNpy.Prediction, fromPicture.Prediction);
                Assert.Equal(fromNpy.Scores, fromPicture.Scores);
            }

            string wrong = Path.Combine(folder, "wide.pgm");
            PgmFiles.Write(wrong, 28, 27, new byte[28 * 27]);
            var size = await Assert.ThrowsAsync<EdgeRuntimeException>(() => pipeline.RunAsync(new PipelineRunRequest(definition.Name) { Inputs = new() { ["image"] = PipelineInput.FromPath("wide.pgm") } }, folder, CancellationToken.None));
            Assert.Equal(ErrorCodes.InvalidInput, size.Code);
            Assert.Contains($"'{wrong}' is 28x27; the models take 28x28", size.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task A_missing_manifest_is_named_in_the_error()
    {
        string missing = Path.Combine(Path.GetTempPath(), $"no-such-folder-{Guid.NewGuid():N}", "cbnet.json");
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => CbnetCascade.LoadAsync("missing", missing, fixture.Invoker, [ProviderNames.Cpu], CancellationToken.None));
        Assert.Contains(missing, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_manifest_without_a_threshold_is_refused_rather_than_read_as_zero()
    {
        string dir = Directory.CreateTempSubdirectory("cbnet-").FullName;
        try
        {
            string path = Path.Combine(dir, "cbnet.json");
            var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(CbnetFixture.ManifestPath))!.AsObject();
            json.Remove("gateThreshold");
            File.WriteAllText(path, json.ToJsonString());

            var e = Assert.Throws<InvalidDataException>(() => CbnetManifest.Load(path));
            Assert.Contains(path, e.Message, StringComparison.Ordinal);
            Assert.Contains("gateThreshold", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void The_committed_images_are_the_first_of_the_debian_test_set()
    {
        // build.ps1 test (and CI) install dataset-fashion-mnist, so this always compares; without it, it fails saying so.
        string folder = FashionMnist.DebianTestSetPath
            ?? throw new InvalidOperationException("The Fashion-MNIST test set is missing: sudo apt-get install dataset-fashion-mnist (build.ps1 test installs it as root).");
        var test = FashionMnist.ReadTestSet(folder);
        Assert.Equal(10_000, test.Count);
        Assert.All(test.Labels.CountBy(l => l), c => Assert.Equal(1_000, c.Value));
        var first = test.Take(fixture.Images.Count);
        Assert.Equal(fixture.Images.Labels, first.Labels);
        Assert.Equal(fixture.Images.Pixels, first.Pixels);
    }

    [Fact]
    public async Task Loading_the_pipeline_again_reuses_its_models()
    {
        int loaded = fixture.Registry.Count;
        var again = await CbnetCascade.LoadAsync(CbnetFixture.Pipeline, CbnetFixture.ManifestPath, fixture.Invoker, [ProviderNames.Cpu], CancellationToken.None);
        Assert.Equal(loaded, fixture.Registry.Count);
        Assert.Equal(fixture.Cascade.ModelNames, again.ModelNames);
        Assert.All(again.ModelNames, name => Assert.True(fixture.Registry.TryGet(name, out _)));
    }

    [Fact]
    public async Task The_bench_report_counts_every_mode_and_serializes()
    {
        var sample = fixture.Images.Take(20);
        var report = await CbnetBench.RunAsync(fixture.Cascade, sample, warmup: 2, CancellationToken.None);

        Assert.Equal(["full", "light", "cascade", "cascade-gated", "early-exit"], report.Modes.Select(m => m.Name));
        Assert.All(report.Modes, m => Assert.Equal(20, m.Count));
        int fullCorrect = 0;
        for (int i = 0; i < sample.Count; i++)
        {
            fullCorrect += (await fixture.RunAsync(i, "full")).Prediction == sample.Labels[i] ? 1 : 0;
        }

        Assert.Equal(100.0 * fullCorrect / 20, report.Modes[0].AccuracyPct);
        Assert.Equal(report.Modes[0].AccuracyPct - report.Modes[3].AccuracyPct, report.CbnetAccuracyDropPts);
        Assert.Equal(report.Modes[0].MeanMs / report.Modes[3].MeanMs, report.CbnetSpeedupVsFull);
        Assert.Null(report.Modes[0].DivertedPct);
        Assert.NotNull(report.Modes[3].DivertedPct);

        string json = JsonSerializer.Serialize(report, EvaluationJsonContext.Default.CbnetBenchReport);
        Assert.Contains("\"cbnetSpeedupVsFull\":", json, StringComparison.Ordinal);
        Assert.Contains("\"name\":\"cascade-gated\"", json, StringComparison.Ordinal);
    }

    [Fact]
    public void Idx_files_are_read_and_a_wrong_magic_number_is_refused()
    {
        string dir = Directory.CreateTempSubdirectory("idx-").FullName;
        try
        {
            byte[] pixels = [.. Enumerable.Range(0, 2 * 784).Select(i => (byte)i)];
            string images = WriteIdx(dir, "images.gz", [2051, 2, 28, 28], pixels);
            string labels = WriteIdx(dir, "labels.gz", [2049, 2], [7, 3]);

            var set = FashionMnist.ReadIdx(images, labels);
            Assert.Equal(pixels, set.Pixels);
            Assert.Equal([7, 3], set.Labels);
            Assert.Equal(pixels[784..], set.Image(1).ToArray());

            var e = Assert.Throws<InvalidDataException>(() => FashionMnist.ReadIdx(labels, images));
            Assert.Contains(labels, e.Message, StringComparison.Ordinal);
            Assert.Contains("2049", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>A run's scores are the deciding softmax, led by its prediction; its confidence their maximum; its stages in order.</summary>
    private static void CheckResult(PipelineResult result, string mode)
    {
        Assert.Equal(CbnetCascade.Kind, result.Kind);
        Assert.Equal(mode, result.Mode);
        Assert.Equal(10, result.Scores.Length);
        Assert.Equal(1.0, result.Scores.Sum(s => (double)s), 1e-5);
        Assert.Equal(result.Scores.Max(), result.Confidence!.Value, 1e-6);
        Assert.Equal(result.Scores.Max(), result.Scores[result.Prediction]);
        double previousEnd = 0;
        foreach (var stage in result.Stages)
        {
            Assert.True(stage.StartMs >= previousEnd && stage.EndMs >= stage.StartMs, $"stage {stage.Name} {stage.StartMs}-{stage.EndMs} after {previousEnd}");
            previousEnd = stage.EndMs;
        }

        Assert.True(result.ResultMs >= previousEnd);
    }

    private static double[] Softmax(float[] logits)
    {
        double max = logits.Max();
        double[] exp = [.. logits.Select(l => Math.Exp(l - max))];
        double sum = exp.Sum();
        return [.. exp.Select(e => e / sum)];
    }

    private static int ArgMax(float[] values) => Array.IndexOf(values, values.Max());

    /// <summary>expected.csv: index,full,light,cbnet, one row per image; rows by index, columns by header name.</summary>
    private static List<Dictionary<string, int>> ReadExpected(string path)
    {
        string[] lines = File.ReadAllLines(path);
        string[] header = lines[0].Split(',');
        var rows = new List<Dictionary<string, int>>();
        foreach (string line in lines.Skip(1).Where(l => l.Length > 0))
        {
            int[] values = [.. line.Split(',').Select(v => int.Parse(v, CultureInfo.InvariantCulture))];
            Assert.Equal(rows.Count, values[0]);
            rows.Add(header.Zip(values).ToDictionary(p => p.First, p => p.Second, StringComparer.Ordinal));
        }

        return rows;
    }

    private static string WriteIdx(string dir, string name, int[] header, byte[] data)
    {
        string path = Path.Combine(dir, name);
        using var gzip = new GZipStream(File.Create(path), CompressionLevel.Fastest);
        Span<byte> word = stackalloc byte[4];
        foreach (int value in header)
        {
            BinaryPrimitives.WriteInt32BigEndian(word, value);
            gzip.Write(word);
        }

        gzip.Write(data);
        return path;
    }
}
