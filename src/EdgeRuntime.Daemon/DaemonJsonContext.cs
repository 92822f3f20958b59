using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeRuntime.Daemon;

/// <summary>Source-generated JSON for the configuration. Unknown fields are errors, so a typo is not silently ignored.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    ReadCommentHandling = JsonCommentHandling.Skip,
    AllowTrailingCommas = true,
    RespectNullableAnnotations = true,
    WriteIndented = true)]
[JsonSerializable(typeof(DaemonConfig))]
internal sealed partial class DaemonJsonContext : JsonSerializerContext;
