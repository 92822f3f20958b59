using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using EdgeRuntime.Evaluation;
using EdgeRuntime.Generation.Engine;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Bench;

/// <summary>
/// bench-llm's vision-language part, in process on the committed models/vlm-fashion (tools/vlm's model as edge-convert
/// imports it: W8A16 encoder, int4 decoder): caption accuracy on Fashion-MNIST's test images (all 10 000 with Debian's
/// dataset-fashion-mnist, else the committed 1000) through the engine, beside the plain classifier's from the training
/// run (tools/vlm/report.json, float32 in PyTorch); and the time from an image to its first caption token, beside a
/// one-token text prompt's first token on the same model in the same run.
/// </summary>
internal static class VlmBench
{
    private const int LatencyRuns = 200;

    public static async Task<List<BenchResult>> RunAsync(string repositoryRoot, int threads, bool quick)
    {
        string folder = Path.Combine(repositoryRoot, "models", "vlm-fashion");
        var captions = FashionCaptions.Read(Path.Combine(repositoryRoot, "tools", "vlm", "checkpoint", "config.json"));
        var images = FashionMnist.DebianTestSetPath is { } debian && !quick
            ? FashionMnist.ReadTestSet(debian)
            : FashionMnist.ReadNpy(Path.Combine(repositoryRoot, "samples", "cbnet", "test_images_1000.npy"), Path.Combine(repositoryRoot, "samples", "cbnet", "test_labels_1000.npy"));
        using var model = LanguageModel.Load("vlm-fashion", folder, new GenerationOptions { IntraOpThreads = threads, Sessions = 1, MaxBatch = 1 });

        var predicted = new List<string>(images.Count);
        for (int i = 0; i < images.Count; i++)
        {
            var (text, _) = await CaptionAsync(model, images.Image(i).ToArray());
            predicted.Add(text);
        }

        var score = captions.Score(predicted, images);
        var classifier = ClassifierScore(Path.Combine(repositoryRoot, "tools", "vlm", "report.json"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"vlm-fashion on {score.Images} test images: caption {score.Exact:P1}, item {score.Item:P1}, shade {score.Shade:P1}; the classifier (training run, 10 000 images): {classifier.Exact:P1}, {classifier.Item:P1}, {classifier.Shade:P1}"));

        var imageToFirst = new List<double>();
        var textToFirst = new List<double>();
        for (int i = 0; i < LatencyRuns; i++)
        {
            imageToFirst.Add((await CaptionAsync(model, images.Image(i % images.Count).ToArray())).FirstTokenMs);
            textToFirst.Add(await TextFirstTokenAsync(model));
        }

        double image = Median(imageToFirst), text1 = Median(textToFirst);
        string set = $"{score.Images} Fashion-MNIST test images through the engine (W8A16 encoder, int4 decoder, greedy)";
        return
        [
            new("vlm_caption_exact_pct", score.Exact * 100, "%", classifier.Exact * 100, score.Exact / classifier.Exact, $"{set}; baseline: the plain classifier (the same encoder with a linear head over the 30 captions), float32, on all 10 000, from tools/vlm/report.json"),
            new("vlm_caption_item_pct", score.Item * 100, "%", classifier.Item * 100, score.Item / classifier.Item, $"{set}: the item named right; baseline as above"),
            new("vlm_caption_shade_pct", score.Shade * 100, "%", classifier.Shade * 100, score.Shade / classifier.Shade, $"{set}: the shade named right; baseline as above"),
            new("vlm_image_to_first_token_ms", image, "ms", text1, text1 / image, $"a 28x28 uint8 image to its caption's first token at the caller (encode, prefill of 4 image positions + BOS, first sample), median of {LatencyRuns}, {threads} threads; baseline: a one-token text prompt's first token on the same model in the same run"),
        ];
    }

    private static async Task<(string Text, double FirstTokenMs)> CaptionAsync(LanguageModel model, byte[] pixels)
    {
        long started = Stopwatch.GetTimestamp();
        var run = model.Start(new GenerateRequest("vlm-fashion") { Prompt = "", MaxTokens = 12, Image = new TensorDescriptor("image", "uint8", [28, 28], 0, pixels.Length) }, pixels);
        var text = new StringBuilder();
        double first = 0;
        await foreach (var token in run.Tokens.ReadAllAsync())
        {
            if (text.Length == 0 && first == 0)
            {
                first = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            }

            text.Append(token.Text);
        }

        await run.Summary;
        return (text.ToString(), first);
    }

    private static async Task<double> TextFirstTokenAsync(LanguageModel model)
    {
        long started = Stopwatch.GetTimestamp();
        var run = model.Start(new GenerateRequest("vlm-fashion") { Prompt = "a", MaxTokens = 1 });
        double first = 0;
        await foreach (var _ in run.Tokens.ReadAllAsync())
        {
            first = first == 0 ? Stopwatch.GetElapsedTime(started).TotalMilliseconds : first;
        }

        await run.Summary;
        return first;
    }

    private static CaptionScore ClassifierScore(string report)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(report));
        var c = document.RootElement.GetProperty("test").GetProperty("classifier_float32");
        return new CaptionScore(c.GetProperty("images").GetInt32(), c.GetProperty("caption_exact").GetDouble(), c.GetProperty("item").GetDouble(), c.GetProperty("shade").GetDouble());
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted[sorted.Length / 2];
    }
}
