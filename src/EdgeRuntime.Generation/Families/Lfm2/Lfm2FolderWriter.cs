using EdgeRuntime.Generation.Folder;

namespace EdgeRuntime.Generation.Families.Lfm2;

/// <summary>Writes an LFM2 hybrid model folder (<see cref="ModelFolderWriter"/>) with <see cref="Lfm2GraphBuilder"/>'s graph.</summary>
public static class Lfm2FolderWriter
{
    public const string Family = "lfm2";

    /// <param name="config">The configuration; its file fields (weights length and hash) are filled in here.</param>
    /// <param name="tokenizerJson">The tokenizer.json to copy into the folder.</param>
    public static LanguageModelConfig Write(string folder, LanguageModelConfig config, Lfm2Weights weights, string tokenizerJson) =>
        Write(folder, config, weights, tokenizerJson, errors: null);

    /// <param name="errors">Receives each quantized projection's weight error (none for float32 projections).</param>
    public static LanguageModelConfig Write(string folder, LanguageModelConfig config, Lfm2Weights weights, string tokenizerJson, List<ProjectionError>? errors) =>
        Write(folder, config, weights, tokenizerJson, errors, calibration: null);

    /// <param name="calibration">With int4 projections: a calibration run (<see cref="ActivationCalibration"/>) whose Gram matrices round the weights by GPTQ.</param>
    public static LanguageModelConfig Write(string folder, LanguageModelConfig config, Lfm2Weights weights, string tokenizerJson, List<ProjectionError>? errors, ActivationCalibration.Result? calibration)
    {
        if (config.Family != Family)
        {
            throw new ArgumentException($"The configuration's family is \"{config.Family}\"; this writer makes \"{Family}\" folders.", nameof(config));
        }

        if (config.LayerTypes is null || config.ConvKernel is null)
        {
            throw new ArgumentException("An LFM2 configuration needs layerTypes and convKernel.", nameof(config));
        }

        return ModelFolderWriter.Write(folder, config, tokenizerJson, file => Lfm2GraphBuilder.Build(config, weights, file, config.Weights, errors, calibration: calibration));
    }

    /// <summary>
    /// Writes a static-shape folder (<see cref="StaticShapes"/>, config.Static): a prefill and a decode graph over one
    /// weights file, in float32, int4 (MatMulNBits) or QDQ projections. QDQ needs <paramref name="calibration"/>
    /// (<see cref="ActivationCalibration"/>).
    /// </summary>
    public static LanguageModelConfig WriteStatic(string folder, LanguageModelConfig config, Lfm2Weights weights, string tokenizerJson, List<ProjectionError>? errors = null, ActivationCalibration.Result? calibration = null) =>
        WriteStatic(folder, config, weights, tokenizerJson, errors, calibration, exposeActivations: null);

    /// <param name="exposeActivations">When given: write every projection's input and output as extra graph outputs (a
    /// calibration graph) and list the projections in it.</param>
    internal static LanguageModelConfig WriteStatic(string folder, LanguageModelConfig config, Lfm2Weights weights, string tokenizerJson, List<ProjectionError>? errors, ActivationCalibration.Result? calibration, List<ProjectionActivations>? exposeActivations)
    {
        if (config.Family != Family || config.LayerTypes is null || config.ConvKernel is null)
        {
            throw new ArgumentException($"A static-shape export is written for an \"{Family}\" configuration with layerTypes and convKernel.", nameof(config));
        }

        var shapes = config.Static ?? throw new ArgumentException("A static-shape export needs the configuration's static section.", nameof(config));
        if (config.Vision is not null)
        {
            throw new ArgumentException("A static-shape export has no image input: a vision-language model is exported with dynamic shapes.", nameof(config));
        }

        config = config with { Graph = shapes.DecodeGraph };
        return ModelFolderWriter.Write(folder, config, tokenizerJson, file =>
        {
            var (prefill, decode, projections) = Lfm2StaticGraphBuilder.Build(config, weights, file, config.Weights, errors, calibration, exposeActivations is not null);
            exposeActivations?.AddRange(projections);
            return [(shapes.PrefillGraph, prefill), (shapes.DecodeGraph, decode)];
        });
    }
}
