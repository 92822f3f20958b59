using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeRuntime.Boards;

/// <summary>Source-generated JSON for board profiles. Unknown fields are errors, so a typo is not silently ignored.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    ReadCommentHandling = JsonCommentHandling.Skip,
    AllowTrailingCommas = true,
    RespectNullableAnnotations = true,
    WriteIndented = true)]
[JsonSerializable(typeof(BoardProfile))]
public sealed partial class BoardJsonContext : JsonSerializerContext;
