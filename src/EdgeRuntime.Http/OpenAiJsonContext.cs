using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeRuntime.Http;

/// <summary>
/// Source-generated JSON for every body this endpoint reads or writes: snake_case like OpenAI's API. Unknown request
/// fields are ignored, as clients send options edged has no use for (user, metadata, store); the ones that would change
/// the answer are read and refused by <see cref="RequestMapping"/>.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    ReadCommentHandling = JsonCommentHandling.Disallow,
    RespectNullableAnnotations = true)]
[JsonSerializable(typeof(ChatCompletionRequest))]
[JsonSerializable(typeof(CompletionRequest))]
[JsonSerializable(typeof(ChatCompletion))]
[JsonSerializable(typeof(ChatCompletionChunk))]
[JsonSerializable(typeof(TextCompletion))]
[JsonSerializable(typeof(ModelList))]
[JsonSerializable(typeof(ModelEntry))]
[JsonSerializable(typeof(ErrorBody))]
internal sealed partial class OpenAiJsonContext : JsonSerializerContext;
