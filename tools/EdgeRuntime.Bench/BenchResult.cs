using System.Text.Json.Serialization;

namespace EdgeRuntime.Bench;

/// <summary>One figure in artifacts/bench/*.json. Baseline is the peer measured in the same run; ratio = value ÷ baseline.</summary>
internal sealed record BenchResult(string Name, double Value, string Unit, double? Baseline, double? Ratio, string? Note = null);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(List<BenchResult>))]
internal sealed partial class BenchJsonContext : JsonSerializerContext;
