using System.Text.Json.Serialization;

namespace EdgeRuntime.Protocol;

/// <summary>Source-generated JSON for every protocol header: no reflection, safe under Native AOT and trimming.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(HelloRequest))]
[JsonSerializable(typeof(HelloResponse))]
[JsonSerializable(typeof(EmptyRequest))]
[JsonSerializable(typeof(NameRequest))]
[JsonSerializable(typeof(LoadRequest))]
[JsonSerializable(typeof(ModelsResponse))]
[JsonSerializable(typeof(ModelInfo))]
[JsonSerializable(typeof(InferRequest))]
[JsonSerializable(typeof(InferResponse))]
[JsonSerializable(typeof(StatsResponse))]
[JsonSerializable(typeof(HealthResponse))]
[JsonSerializable(typeof(UnloadResponse))]
[JsonSerializable(typeof(ErrorResponse))]
[JsonSerializable(typeof(SubscribeRequest))]
[JsonSerializable(typeof(SubscribeResponse))]
[JsonSerializable(typeof(UnsubscribeRequest))]
[JsonSerializable(typeof(UnsubscribeResponse))]
[JsonSerializable(typeof(InjectRequest))]
[JsonSerializable(typeof(InjectResponse))]
[JsonSerializable(typeof(ResultEvent))]
[JsonSerializable(typeof(PipelineListResponse))]
[JsonSerializable(typeof(PipelineDefinition))]
[JsonSerializable(typeof(PipelineRunRequest))]
[JsonSerializable(typeof(PipelineRunResponse))]
[JsonSerializable(typeof(PipelineStatus))]
[JsonSerializable(typeof(GenerateRequest))]
[JsonSerializable(typeof(GenerateResponse))]
[JsonSerializable(typeof(TokenEvent))]
[JsonSerializable(typeof(CancelRequest))]
[JsonSerializable(typeof(CancelResponse))]
[JsonSerializable(typeof(RegionRegisterResponse))]
[JsonSerializable(typeof(RegionUnregisterResponse))]
public sealed partial class ProtocolJsonContext : JsonSerializerContext;
