using System.Diagnostics.CodeAnalysis;
using System.Threading.Channels;
using EdgeRuntime.Generation.Engine;
using EdgeRuntime.Generation.Folder;
using EdgeRuntime.Inference.Paths;
using EdgeRuntime.Protocol;
using EdgeRuntime.Server;

namespace EdgeRuntime.Daemon;

/// <summary>The socket's view of the language models: the server knows generate and its frames, not the engine.</summary>
internal sealed class DaemonGeneration(ModelPaths paths, GenerationOptions options) : IGenerationServices, IDisposable
{
    private readonly Dictionary<string, LanguageModel> _models = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _loading = new(1, 1);

    public static GenerationOptions Options(GenerationConfig config, long memoryBudgetBytes) => new()
    {
        ContextLimit = config.ContextLimit,
        Sessions = config.Sessions,
        MaxBatch = config.MaxBatch,
        QueueCapacity = config.QueueCapacity,
        PrefillChunk = config.PrefillChunk,
        IdleTimeout = TimeSpan.FromMinutes(config.IdleTimeoutMinutes),
        DefaultMaxTokens = config.DefaultMaxTokens,
        IntraOpThreads = config.Threads ?? Environment.ProcessorCount,
        VerifyWeights = config.VerifyWeights,
        MemoryBudgetBytes = memoryBudgetBytes,
    };

    /// <summary>
    /// True when the path, resolved under the model-path rules, is a language-model folder (or its config). A path the
    /// rules refuse is not one; the tensor registry then refuses it with the reason.
    /// </summary>
    public bool IsLanguageModel(string path)
    {
        try
        {
            return LanguageModelFolder.IsLanguageModelPath(paths.Resolve(path, PathTarget.FileOrFolder));
        }
        catch (EdgeRuntimeException)
        {
            return false;
        }
    }

    public async Task<ModelInfo> LoadAsync(LoadRequest request, CancellationToken cancellationToken)
    {
        await _loading.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            lock (_models)
            {
                if (_models.ContainsKey(request.Name))
                {
                    throw new EdgeRuntimeException(ErrorCodes.ModelExists, $"A model named '{request.Name}' is already loaded.");
                }
            }

            // Loading maps the weights and builds the ORT session: seconds for a large model, off the socket's threads.
            var model = await Task.Run(() => LanguageModel.Load(request.Name, paths.Resolve(request.Path, PathTarget.FileOrFolder), options), cancellationToken).ConfigureAwait(false);
            lock (_models)
            {
                _models.Add(request.Name, model);
            }

            return Describe(model);
        }
        finally
        {
            _loading.Release();
        }
    }

    public bool TryGetInfo(string name, [NotNullWhen(true)] out ModelInfo? info)
    {
        lock (_models)
        {
            info = _models.TryGetValue(name, out var model) ? Describe(model) : null;
            return info is not null;
        }
    }

    public ModelSummary[] Models()
    {
        lock (_models)
        {
            return [.. _models.Values.Select(m => new ModelSummary(m.Name, m.Path, [EdgeRuntime.Inference.SessionFactory.CpuProvider], m.LoadedAt) { Kind = ModelKinds.Language, ContextLength = m.ContextLength })];
        }
    }

    public bool Unload(string name)
    {
        LanguageModel? model;
        lock (_models)
        {
            if (!_models.Remove(name, out model))
            {
                return false;
            }
        }

        model.Dispose(); // running generations end with shutting_down
        return true;
    }

    public IGeneration Start(GenerateRequest request, ReadOnlyMemory<byte> payload)
    {
        LanguageModel? model;
        lock (_models)
        {
            _models.TryGetValue(request.Model, out model);
        }

        return model is null
            ? throw new EdgeRuntimeException(ErrorCodes.UnknownModel, $"No model named '{request.Model}' is loaded.")
            : new Generation(model.Start(request, payload.Span));
    }

    public void Dispose()
    {
        lock (_models)
        {
            foreach (var model in _models.Values)
            {
                model.Dispose();
            }

            _models.Clear();
        }

        _loading.Dispose();
    }

    private static ModelInfo Describe(LanguageModel model) => new(
        model.Name,
        model.Path,
        model.WeightBytes,
        [EdgeRuntime.Inference.SessionFactory.CpuProvider],
        [],
        [],
        model.LoadMs,
        model.LoadedAt,
        [],
        [],
        $"A {model.Config.Family} language model: {model.Config.Layers} layers ({model.LayerSummary}), hidden {model.Config.HiddenSize}, vocabulary {model.Config.VocabSize}; {model.Options.Sessions} sessions of {model.ContextLength} positions, {model.SessionStateBytes >> 10} KiB of state each ({model.CacheBytes >> 20} MiB in all).")
    {
        Kind = ModelKinds.Language,
        ContextLength = model.ContextLength,
        Family = model.Config.Family,
        SessionStateBytes = model.SessionStateBytes,
        Layers = model.LayerSummary,
        Attention = model.AttentionSummary,
        StaticShapes = model.StaticShapesSummary,
        Image = model.Config.Vision is { } v ? new ImageInputSpec(v.ImageHeight, v.ImageWidth, v.Channels, v.ImageTokens, v.Quantization ?? VisionFormats.Float32) : null,
    };

    private sealed class Generation(GenerationRun run) : IGeneration
    {
        public ChannelReader<TokenEvent> Tokens => run.Tokens;

        public Task<GenerateResponse> Summary => run.Summary;

        public void Cancel() => run.Cancel();
    }
}
