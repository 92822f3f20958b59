using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using EdgeRuntime.Conversion;
using EdgeRuntime.Convert;

const string Usage = """
    Usage: edge-convert IN.onnx OUT.onnx --to bitlinear|int4 [--block 32] [--symmetric] [--accuracy-level 4] [--json]

      --to bitlinear     every MatMul with float weights W [K, N] becomes ai.edgeruntime::BitLinear: ternary weights
                         with BitNet b1.58's absmean scale (runs on edged's C# kernel)
      --to int4          ... becomes com.microsoft::MatMulNBits, 4-bit round-to-nearest per block along K
      --block N          INT4 block size, a power of two from 16 to 256 (default 32)
      --symmetric        INT4 without zero points (default: asymmetric, with zero points)
      --accuracy-level L MatMulNBits accuracy_level (default 4: int8 activations; 0 keeps float activations)
      --json             print the report as JSON

    Prints, per converted layer, the weight shape, the quantization error (SQNR in dB: 10·log10(Σw²/Σ(w−ŵ)²)) and the
    weight bytes before and after, then the model sizes. Layers that cannot be converted are listed with the reason.
    """;

try
{
    var (input, output, options, json) = Arguments.Parse(args);
    var result = ModelConverter.Convert(File.ReadAllBytes(input), options);
    File.WriteAllBytes(output, result.Model);
    if (json)
    {
        Console.WriteLine(JsonSerializer.Serialize(new Report(input, output, options.Target.ToString(), result.Layers.ToArray(), [.. result.Skipped], result.ModelBytesBefore, result.ModelBytesAfter), ReportJson.Default.Report));
    }
    else
    {
        Print(result, output);
    }

    return result.Layers.Count > 0 ? 0 : 3;
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"edge-convert: {e.Message}");
    Console.Error.WriteLine(Usage);
    return 2;
}
catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
{
    Console.Error.WriteLine($"edge-convert: {e.Message}");
    return 1;
}

static void Print(ConversionResult result, string output)
{
    var c = CultureInfo.InvariantCulture;
    Console.WriteLine(string.Create(c, $"{"layer",-32} {"weights",-28} {"K x N",-13} {"SQNR dB",8} {"bytes before",13} {"after",11}"));
    foreach (var layer in result.Layers)
    {
        Console.WriteLine(string.Create(c, $"{layer.Node,-32} {layer.Weight,-28} {$"{layer.K}x{layer.N}",-13} {layer.SqnrDb,8:0.0} {layer.BytesBefore,13:N0} {layer.BytesAfter,11:N0}"));
    }

    foreach (string skipped in result.Skipped)
    {
        Console.WriteLine($"left as is: {skipped}");
    }

    long before = result.Layers.Sum(l => l.BytesBefore), after = result.Layers.Sum(l => l.BytesAfter);
    Console.WriteLine(string.Create(c, $"{result.Layers.Count} layer(s): weights {before:N0} -> {after:N0} bytes ({(after == 0 ? 0 : (double)before / after):0.0}x smaller); model {result.ModelBytesBefore:N0} -> {result.ModelBytesAfter:N0} bytes; wrote {output}"));
    if (result.Layers.Count == 0)
    {
        Console.Error.WriteLine("edge-convert: no MatMul with 2-D float initializer weights was found; the output equals the input.");
    }
}

namespace EdgeRuntime.Convert
{
    internal sealed record Report(string Input, string Output, string Target, LayerReport[] Layers, string[] Skipped, long ModelBytesBefore, long ModelBytesAfter);

    [JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
    [JsonSerializable(typeof(Report))]
    internal sealed partial class ReportJson : JsonSerializerContext;

    internal static class Arguments
    {
        public static (string Input, string Output, ConversionOptions Options, bool Json) Parse(string[] args)
        {
            var positional = new List<string>();
            string? target = null;
            int block = 32, accuracy = 4;
            bool symmetric = false, json = false;
            for (int i = 0; i < args.Length; i++)
            {
                switch (args[i])
                {
                    case "--to": target = Value(args, ref i); break;
                    case "--block": block = Int(args, ref i); break;
                    case "--accuracy-level": accuracy = Int(args, ref i); break;
                    case "--symmetric": symmetric = true; break;
                    case "--json": json = true; break;
                    case var flag when flag.StartsWith("--", StringComparison.Ordinal): throw new ArgumentException($"unknown option '{flag}'");
                    default: positional.Add(args[i]); break;
                }
            }

            if (positional.Count != 2)
            {
                throw new ArgumentException("give an input and an output model");
            }

            var kind = target switch
            {
                "bitlinear" => ConversionTarget.BitLinear,
                "int4" => ConversionTarget.Int4,
                null => throw new ArgumentException("--to is required (bitlinear or int4)"),
                _ => throw new ArgumentException($"--to is '{target}'; it must be bitlinear or int4"),
            };
            if (accuracy is < 0 or > 4)
            {
                throw new ArgumentException($"--accuracy-level is {accuracy}; it must be 0 to 4");
            }

            return (positional[0], positional[1], new ConversionOptions(kind, block, !symmetric, accuracy), json);
        }

        private static string Value(string[] args, ref int i) =>
            ++i < args.Length ? args[i] : throw new ArgumentException($"{args[i - 1]} needs a value");

        private static int Int(string[] args, ref int i)
        {
            string text = Value(args, ref i);
            return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) ? value : throw new ArgumentException($"{args[i - 1]} is '{text}', not a number");
        }
    }
}
