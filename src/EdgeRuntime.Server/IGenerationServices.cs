using System.Diagnostics.CodeAnalysis;
using System.Threading.Channels;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Server;

/// <summary>
/// What the socket needs from the daemon's language models: load, describe, unload, and start a generation. The
/// engine itself (EdgeRuntime.Generation) is wired in by the daemon; null when the daemon serves none.
/// </summary>
public interface IGenerationServices
{
    /// <summary>True when <paramref name="path"/> (relative to the model directory) is a language-model folder.</summary>
    bool IsLanguageModel(string path);

    /// <summary>Loads a language-model folder. Throws EdgeRuntimeException (model_not_found, model_invalid, ...).</summary>
    Task<ModelInfo> LoadAsync(LoadRequest request, CancellationToken cancellationToken);

    bool TryGetInfo(string name, [NotNullWhen(true)] out ModelInfo? info);

    ModelSummary[] Models();

    bool Unload(string name);

    /// <summary>
    /// Checks and queues a generate request. <paramref name="payload"/> is the request frame's payload, where an image
    /// (<see cref="GenerateRequest.Image"/>) lies; empty when there is none. Throws EdgeRuntimeException for bad input
    /// (unknown_model, invalid_image, ...).
    /// </summary>
    IGeneration Start(GenerateRequest request, ReadOnlyMemory<byte> payload);
}

/// <summary>A generation in flight: its token events, then its summary; <see cref="Cancel"/> ends it at the next step.</summary>
public interface IGeneration
{
    ChannelReader<TokenEvent> Tokens { get; }

    Task<GenerateResponse> Summary { get; }

    void Cancel();
}
