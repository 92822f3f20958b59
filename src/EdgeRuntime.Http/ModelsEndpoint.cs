using EdgeRuntime.Protocol;
using EdgeRuntime.Server;
using Microsoft.AspNetCore.Http;

namespace EdgeRuntime.Http;

/// <summary>GET /v1/models and /v1/models/{id}: the language models edged has loaded (tensor models are not listed).</summary>
internal sealed class ModelsEndpoint(IGenerationServices generation)
{
    public Task ListAsync(HttpContext context) =>
        JsonBodies.WriteAsync(
            context.Response,
            StatusCodes.Status200OK,
            new ModelList([.. generation.Models().Select(m => Entry(m.Name, m.LoadedAt, m.ContextLength))]),
            OpenAiJsonContext.Default.ModelList);

    public Task GetAsync(HttpContext context)
    {
        string id = context.Request.RouteValues["id"] as string ?? "";
        return generation.TryGetInfo(id, out var info)
            ? JsonBodies.WriteAsync(context.Response, StatusCodes.Status200OK, Entry(info.Name, info.LoadedAt, info.ContextLength), OpenAiJsonContext.Default.ModelEntry)
            : throw new HttpApiException(StatusCodes.Status404NotFound, ErrorTypes.NotFound, ErrorCodes.UnknownModel, $"No language model named '{id}' is loaded.", "model");
    }

    private static ModelEntry Entry(string name, DateTimeOffset loadedAt, int? contextLength) =>
        new(name, loadedAt.ToUnixTimeSeconds()) { ContextLength = contextLength };
}
