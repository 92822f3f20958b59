using System.Globalization;
using System.Text.Json;

namespace EdgeRuntime.Evaluation;

/// <summary>
/// The captions tools/vlm/train.py teaches its vision-language model: "a {shade} {item}", the item from the label and
/// the shade from the mean of the garment's pixels (those at or above the ink threshold) cut at the train set's
/// tertiles. Read from the checkpoint's config.json (<c>caption_labels</c>), so the truth here is the training's.
/// </summary>
public sealed record FashionCaptions(string[] Items, string[] Shades, int InkThreshold, double[] ShadeCuts)
{
    public static FashionCaptions Read(string checkpointConfig)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(checkpointConfig));
        if (!document.RootElement.TryGetProperty("caption_labels", out var labels))
        {
            throw new InvalidDataException($"{checkpointConfig} has no caption_labels: it is not tools/vlm's checkpoint.");
        }

        string[] Strings(string name) => [.. labels.GetProperty(name).EnumerateArray().Select(e => e.GetString() ?? "")];
        return new FashionCaptions(
            Strings("items"),
            Strings("shades"),
            labels.GetProperty("ink_threshold").GetInt32(),
            [.. labels.GetProperty("shade_cuts").EnumerateArray().Select(e => e.GetDouble())]);
    }

    public int Shade(ReadOnlySpan<byte> image)
    {
        long sum = 0, count = 0;
        foreach (byte p in image)
        {
            if (p >= InkThreshold)
            {
                sum += p;
                count++;
            }
        }

        double mean = sum / (double)Math.Max(1, count);
        return ShadeCuts.Count(cut => cut <= mean);
    }

    public string Caption(int item, int shade) => string.Create(CultureInfo.InvariantCulture, $"a {Shades[shade]} {Items[item]}");

    public string Truth(ReadOnlySpan<byte> image, int label) => Caption(label, Shade(image));

    /// <summary>Exact captions, right items and right shades among <paramref name="predicted"/> against the images' truth.</summary>
    public CaptionScore Score(IReadOnlyList<string> predicted, LabeledImages images)
    {
        int exact = 0, item = 0, shade = 0;
        for (int i = 0; i < predicted.Count; i++)
        {
            int label = images.Labels[i];
            string p = predicted[i];
            exact += p == Truth(images.Image(i), label) ? 1 : 0;
            item += p.EndsWith(" " + Items[label], StringComparison.Ordinal) ? 1 : 0;
            shade += p.StartsWith($"a {Shades[Shade(images.Image(i))]} ", StringComparison.Ordinal) ? 1 : 0;
        }

        double n = Math.Max(1, predicted.Count);
        return new CaptionScore(predicted.Count, exact / n, item / n, shade / n);
    }
}

/// <summary>Shares of the images whose caption was exactly right, named the right item, and the right shade.</summary>
public sealed record CaptionScore(int Images, double Exact, double Item, double Shade);
