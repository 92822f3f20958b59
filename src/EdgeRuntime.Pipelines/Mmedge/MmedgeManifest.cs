using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeRuntime.Pipelines.Mmedge;

/// <summary>
/// What the training script (tools/train-pipelines/mmedge.py) wrote beside the models: the stream geometry, the unit
/// options, the model files, the skip gate's input order and threshold, and the measured accuracy of every
/// configuration (the optimizer's accuracy predictor).
/// </summary>
public sealed record MmedgeManifest(
    string Task,
    int SampleRate,
    double AudioMs,
    int Frames,
    double FrameIntervalMs,
    int FrameSize,
    int Embedding,
    int Classes,
    double[] AudioUnitMs,
    int[] VisionStrides,
    MmedgeModelFiles Models,
    MmedgeGate Gate,
    MmedgeConfigurationAccuracy[] Configurations)
{
    /// <summary>The gate's input order the models were trained with; serving refuses any other.</summary>
    public static readonly string[] GateInputOrder = ["vision[10]", "audioPrefix[10]", "fraction"];

    public static MmedgeManifest Load(string path)
    {
        // The JSON context refuses a missing key or a null where the records take none (a gate without its input
        // order among them), so only what the types cannot say is checked here.
        var manifest = ManifestFile.Read(path, MmedgeJsonContext.Default.MmedgeManifest, "MMEdge");
        if (manifest.Configurations.Length == 0)
        {
            throw new InvalidDataException($"The MMEdge manifest '{path}' lists no configurations.");
        }

        if (!manifest.Gate.Input.SequenceEqual(GateInputOrder, StringComparer.Ordinal))
        {
            throw new InvalidDataException($"The MMEdge manifest '{path}' declares gate input [{string.Join(", ", manifest.Gate.Input)}]; this runtime feeds [{string.Join(", ", GateInputOrder)}].");
        }

        return manifest;
    }

    public int AudioSamples => (int)Math.Round(SampleRate * AudioMs / 1000);
}

public sealed record MmedgeModelFiles(
    Dictionary<string, string> AudioEncoder,
    Dictionary<string, string> VisionEncoder,
    Dictionary<string, string> AudioAggregator,
    Dictionary<string, string> VisionAggregator,
    string Fusion,
    string Gate);

public sealed record MmedgeGate(string[] Input, double[] Checkpoints, double Threshold);

/// <summary>One configuration and its accuracy on the training script's validation and test splits.</summary>
public sealed record MmedgeConfigurationAccuracy(string AudioEncoder, double AudioUnitMs, string VisionEncoder, int VisionStride, double ValAccuracy, double TestAccuracy)
{
    public double TestAccuracySkip { get; init; }

    public double TestAudioUnitsSkippedPct { get; init; }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    ReadCommentHandling = JsonCommentHandling.Skip,
    AllowTrailingCommas = true,
    RespectRequiredConstructorParameters = true,
    RespectNullableAnnotations = true)]
[JsonSerializable(typeof(MmedgeManifest))]
internal sealed partial class MmedgeJsonContext : JsonSerializerContext;
