using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using EdgeRuntime.Conversion;
using EdgeRuntime.Convert;
using EdgeRuntime.Onnx;

// "import" as the first word is the checkpoint importer, a command of its own with its own options.
if (args is [ImportArguments.Name, .. var importArgs])
{
    return ImportCommand.Run(importArgs, Console.Out, Console.Error);
}

try
{
    if (Arguments.Parse(args) is not { } parsed)
    {
        Console.WriteLine(Arguments.Usage);
        return 0;
    }

    var (input, output, options, json, externalData) = parsed;
    // Sizes on disk, external data files included; the input's before anything is written (the output may replace it).
    long bytesBefore = ExternalInitializers.BytesOnDisk(input);
    var result = ModelConverter.Convert(File.ReadAllBytes(input), options, Path.GetDirectoryName(Path.GetFullPath(input)));
    if (result.Layers.Count > 0 && ConvertedModelCheck.Problem(result.Model) is { } refused)
    {
        Console.Error.WriteLine($"edge-convert: ONNX Runtime refuses the converted model, so nothing was written: {refused}");
        return 4;
    }

    // A model that came with external data goes out with it too (its weights may be too large to sit inline).
    if (externalData || (result.ReadExternalData && result.Layers.Count > 0))
    {
        string dataPath = output + ".data";
        using var data = File.Create(dataPath);
        File.WriteAllBytes(output, EdgeRuntime.Onnx.ExternalDataWriter.Externalize(result.Model, Path.GetFileName(dataPath), data));
    }
    else
    {
        File.WriteAllBytes(output, result.Model);
    }

    long bytesAfter = ExternalInitializers.BytesOnDisk(output);
    if (json)
    {
        Console.WriteLine(JsonSerializer.Serialize(new Report(input, output, options.Target.ToString(), result.Layers.ToArray(), [.. result.Skipped], bytesBefore, bytesAfter, result.Qdq), ReportJson.Default.Report));
    }
    else
    {
        Print(result, output, options.Target, bytesBefore, bytesAfter);
    }

    return result.Layers.Count > 0 ? 0 : 3;
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"edge-convert: {e.Message}");
    Console.Error.WriteLine(Arguments.Usage);
    return 2;
}
catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
{
    Console.Error.WriteLine($"edge-convert: {e.Message}");
    return 1;
}

static void Print(ConversionResult result, string output, ConversionTarget target, long bytesBefore, long bytesAfter)
{
    var c = CultureInfo.InvariantCulture;
    Console.WriteLine(string.Create(c, $"{"layer",-32} {"weights",-28} {"K x N",-13} {"SQNR dB",8} {"bytes before",13} {"after",11}"));
    foreach (var layer in result.Layers)
    {
        Console.WriteLine(string.Create(c, $"{layer.Node,-32} {layer.Weight,-28} {$"{layer.K}x{layer.N}",-13} {(double.IsPositiveInfinity(layer.SqnrDb) ? "exact" : layer.SqnrDb.ToString("0.0", c)),8} {layer.BytesBefore,13:N0} {layer.BytesAfter,11:N0}"));
    }

    foreach (string skipped in result.Skipped)
    {
        Console.WriteLine($"left as is: {skipped}");
    }

    if (result.Qdq is { } qdq)
    {
        Console.WriteLine(string.Create(c, $"BatchNormalization folded into Conv: {qdq.FoldedBatchNorms}; activations quantized: {qdq.QuantizedActivations} (uint{qdq.ActivationBits}, {qdq.Calibration}); weights int8 with {qdq.WeightBits}-bit codes per output channel"));
        if (qdq.Accuracy is { } a)
        {
            string heldBack = a.HeldBackSqnrDb is { } h ? string.Create(c, $"{h:0.0} dB on {a.HeldBackSamples} held-back sample(s)") : "no samples held back (give two or more)";
            Console.WriteLine(string.Create(c, $"output SQNR against the float model: {a.CalibrationSqnrDb:0.0} dB on {a.CalibrationSamples} calibration sample(s), {heldBack}"));
        }

        if (qdq.OtherCandidateCalibrationSqnrDb is { } other)
        {
            Console.WriteLine(qdq.EqualizedPairs > 0
                ? string.Create(c, $"cross-layer equalization kept: {qdq.EqualizedPairs} conv pair(s) rescaled ({other:0.0} dB on the calibration samples without it)")
                : string.Create(c, $"cross-layer equalization tried and not kept ({other:0.0} dB on the calibration samples with it, not better)"));
        }

        Console.WriteLine($"QNN HTP fitness check: {qdq.HtpCheck}");
    }

    long before = result.Layers.Sum(l => l.BytesBefore), after = result.Layers.Sum(l => l.BytesAfter);
    Console.WriteLine(string.Create(c, $"{result.Layers.Count} layer(s): weights {before:N0} -> {after:N0} bytes ({(after == 0 ? 0 : (double)before / after):0.0}x smaller); model {bytesBefore:N0} -> {bytesAfter:N0} bytes; wrote {output}"));
    if (result.Layers.Count == 0)
    {
        Console.Error.WriteLine(target == ConversionTarget.Int8Packed
            ? "edge-convert: no MatMulInteger or QLinearMatMul with 2-D 8-bit initializer weights was found; the output equals the input."
            : target == ConversionTarget.Int8
            ? "edge-convert: no Conv, ConvTranspose, MatMul or Gemm with constant float weights was found (the reasons are listed above); the output equals the input."
            : "edge-convert: no MatMul or Gemm with constant 2-D floating-point weights was found (the reasons are listed above); the output equals the input.");
    }
}

namespace EdgeRuntime.Convert
{
    internal sealed record Report(string Input, string Output, string Target, LayerReport[] Layers, string[] Skipped, long ModelBytesBefore, long ModelBytesAfter, QdqDetails? Qdq);

    [JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
    [JsonSerializable(typeof(Report))]
    internal sealed partial class ReportJson : JsonSerializerContext;
}
