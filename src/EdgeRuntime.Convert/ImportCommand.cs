using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using EdgeRuntime.Conversion.Import;

namespace EdgeRuntime.Convert;

/// <summary>
/// <c>edge-convert import CHECKPOINT OUT-FOLDER</c>: runs <see cref="CheckpointImporter.Import"/> and prints its
/// report. Takes its writers so tests run it in-process.
/// </summary>
internal static class ImportCommand
{
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        try
        {
            if (ImportArguments.Parse(args) is not { } request)
            {
                output.WriteLine(ImportArguments.Usage);
                return 0;
            }

            var report = CheckpointImporter.Import(request.Input, request.Output, request.Options);
            if (request.Json)
            {
                output.WriteLine(JsonSerializer.Serialize(report, ImportReportJson.Default.ImportReport));
            }
            else
            {
                Print(report, output);
            }

            return 0;
        }
        catch (ArgumentException e)
        {
            error.WriteLine($"edge-convert import: {e.Message}");
            error.WriteLine(ImportArguments.Usage);
            return 2;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            error.WriteLine($"edge-convert import: {e.Message}");
            return 1;
        }
    }

    private static void Print(ImportReport r, TextWriter output)
    {
        var c = CultureInfo.InvariantCulture;
        string family = r.Family == "lfm2" ? "LFM2" : "BitNet b1.58";
        output.WriteLine(string.Create(c, $"imported {family} from {r.Input} ({r.Form}, {r.InputFiles} file(s), {r.InputBytes:N0} bytes)"));
        output.WriteLine(string.Create(c, $"  {r.Layers} layers{(r.Mixers is null ? "" : $" ({r.Mixers})")}, hidden {r.HiddenSize}, feed-forward {r.IntermediateSize}, {r.AttentionHeads} query / {r.KvHeads} key-value heads of {r.HeadDim}, vocabulary {r.VocabSize}, context {r.ContextLength}"));
        output.WriteLine(string.Create(c, $"  {r.Projections} {r.ProjectionFormat} projections, {r.ProjectionWeights:N0} weights{(r.Scale is null ? "" : $"; β: {r.Scale}")}"));
        output.WriteLine($"  tokenizer: {r.Tokenizer}; chat template: {r.ChatTemplate ?? "none"}; embedding: {r.EmbeddingFormat}");
        if (r.ProjectionErrors is { Length: > 0 } errors)
        {
            output.WriteLine(string.Create(c, $"  weight SQNR: {errors.Min(e => e.SqnrDb):0.0} to {errors.Max(e => e.SqnrDb):0.0} dB over {errors.Length} projections (each: --json)"));
        }

        if (r.Static is { } shapes)
        {
            output.WriteLine(string.Create(c, $"  static-shape export: {shapes.PrefillGraph} ({shapes.PrefillChunk} tokens a run) and {shapes.DecodeGraph} (1), cache of {shapes.Capacity}{(r.CalibrationTokens is { } t ? $"; activations calibrated on {t} tokens" : "")}"));
        }

        if (r.HtpCheck is { } htp)
        {
            output.WriteLine($"  QNN HTP fitness check: {htp}");
        }

        if (r.Vision is { } vision)
        {
            string quantized = vision.EmbeddingsSqnrDb is { } sqnr
                ? string.Create(c, $"; image embeddings' SQNR against the float encoder {sqnr:0.0} dB over {vision.CalibrationImages} calibration images, weights {vision.Layers.Min(l => l.SqnrDb):0.0} to {vision.Layers.Max(l => l.SqnrDb):0.0} dB")
                : "";
            output.WriteLine($"  vision encoder: {vision.Format}{quantized}; QNN HTP fitness check: {r.VisionHtpCheck}");
        }

        if (r.LogitsSqnrDb is { } logits)
        {
            output.WriteLine(string.Create(c, $"  logits SQNR against the float model: {logits:0.0} dB over {r.LogitsTokens} positions; same most likely token at {r.LogitsSameArgMax} of them"));
        }
        output.WriteLine(string.Create(c, $"wrote {r.Output}: weights.bin {r.WeightsBytes:N0} bytes, in {r.Seconds:0.0} s"));
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(ImportReport))]
internal sealed partial class ImportReportJson : JsonSerializerContext;
