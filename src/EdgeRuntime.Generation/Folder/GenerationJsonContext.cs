using System.Text.Json.Serialization;

namespace EdgeRuntime.Generation.Folder;

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    WriteIndented = true,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(LanguageModelConfig))]
internal sealed partial class GenerationJsonContext : JsonSerializerContext;
