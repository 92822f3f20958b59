using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeRuntime.Pipelines.Cbnet;

/// <summary>
/// What the CBNet training script wrote beside the models: the input geometry, the five model files (full model,
/// light classifier, converting autoencoder, the two halves of the early-exit baseline), the gate and exit
/// thresholds, and the accuracies it measured on the test split. Keys this runtime does not use are ignored.
/// </summary>
public sealed record CbnetManifest(string Task, CbnetInput Input, CbnetModelFiles Models, double GateThreshold, double ExitThreshold)
{
    /// <summary>The one input geometry the models are trained on: a 28×28 grey image, pixels/255.</summary>
    public static readonly long[] InputShape = [1, 1, 28, 28];

    /// <summary>The training script's accuracies on the 10 000-image test split; null when it wrote none.</summary>
    public CbnetAccuracy? TestAccuracy { get; init; }

    /// <summary>The share (percent) of test images the gated cascade sent to the full model.</summary>
    public double? TestFallbackPct { get; init; }

    /// <summary>The share (percent) of test images the early-exit baseline answered at its first stage.</summary>
    public double? TestExitPct { get; init; }

    public static CbnetManifest Load(string path)
    {
        var manifest = ManifestFile.Read(path, CbnetJsonContext.Default.CbnetManifest, "CBNet");

        // RespectRequiredConstructorParameters and RespectNullableAnnotations (below) already refuse a missing key or
        // a null where the records take none: a threshold left out must not read as 0 and silently disable the gate.
        long[] shape = manifest.Input.Shape;
        if (manifest.Input.Name != "image" || !shape.SequenceEqual(InputShape))
        {
            throw new InvalidDataException($"The CBNet manifest '{path}' declares input '{manifest.Input.Name}' [{string.Join(",", shape)}]; this runtime feeds 'image' [{string.Join(",", InputShape)}].");
        }

        return manifest;
    }
}

public sealed record CbnetInput(string Name, long[] Shape, string? Scale = null);

/// <summary>Model files, relative to the manifest's folder.</summary>
public sealed record CbnetModelFiles(string Full, string Light, string Autoencoder, string EarlyExitStage1, string EarlyExitStage2);

/// <summary>Test-split accuracy of each way of answering, as the fraction of images classified right (0-1).</summary>
public sealed record CbnetAccuracy(double Full, double Light, double Cbnet, double CbnetGated, double EarlyExit);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    ReadCommentHandling = JsonCommentHandling.Skip,
    AllowTrailingCommas = true,
    RespectRequiredConstructorParameters = true,
    RespectNullableAnnotations = true)]
[JsonSerializable(typeof(CbnetManifest))]
public sealed partial class CbnetJsonContext : JsonSerializerContext;
