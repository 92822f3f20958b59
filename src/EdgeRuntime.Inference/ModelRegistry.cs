using System.Collections.Concurrent;
using System.Diagnostics;
using EdgeRuntime.Inference.Batching;
using EdgeRuntime.Inference.Paths;
using EdgeRuntime.Inference.Providers;
using EdgeRuntime.Protocol;
using Microsoft.ML.OnnxRuntime;

namespace EdgeRuntime.Inference;

/// <summary>The loaded models by name. Load and unload are safe to call concurrently with inference.</summary>
public sealed class ModelRegistry(string modelDirectory, InferenceOptions options, SessionBuilder? sessionBuilder = null) : IDisposable
{
    private readonly SessionBuilder _sessionBuilder = sessionBuilder ?? SessionBuilder.Default;
    private readonly ConcurrentDictionary<string, LoadedModel> _models = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _loadGate = new(1, 1);

    public string ModelDirectory => Paths.ModelDirectory;

    /// <summary>The rules every path a client or a configuration gives must pass.</summary>
    public ModelPaths Paths { get; } = new(modelDirectory, options.AllowedModelRoots);

    public InferenceOptions Options { get; } = options;

    public int Count => _models.Count;

    public IEnumerable<LoadedModel> Models => _models.Values.OrderBy(m => m.Name, StringComparer.Ordinal);

    /// <summary>A relative path is taken from the model directory; an absolute one must lie under an allowed root.</summary>
    public string ResolvePath(string path) => Paths.Resolve(path, PathTarget.File);

    /// <summary>Loads a model and creates its session. Errors carry a protocol code and a message a person can act on.</summary>
    /// <param name="providers">Provider names overriding the board's list for this model; null keeps the board's.</param>
    /// <param name="onMissingProvider">fallback or fail, overriding the board's rule; null keeps it.</param>
    /// <param name="kernelFallback">auto, force or off, overriding the board's rule; null keeps it.</param>
    /// <param name="batching">Run waiting requests together (checked against the model's signature); null: never.</param>
    public async Task<LoadedModel> LoadAsync(string name, string path, string[]? providers = null, string? onMissingProvider = null, CancellationToken cancellationToken = default, string? kernelFallback = null, BatchingOptions? batching = null)
    {
        var choice = ResolveChoice(providers, onMissingProvider);
        if (kernelFallback is not null)
        {
            if (!Onnx.KernelFallbackModes.TryParse(kernelFallback, out var mode))
            {
                throw new EdgeRuntimeException(ErrorCodes.BadRequest, $"kernelFallback is '{kernelFallback}'; it must be 'auto', 'force' or 'off'.");
            }

            choice = choice with { KernelFallback = mode };
        }

        if (string.IsNullOrWhiteSpace(name) || name.Length > 128 || name.Any(c => char.IsControl(c) || c == '/'))
        {
            throw new EdgeRuntimeException(ErrorCodes.BadRequest, "A model name must be 1-128 characters, without '/' or control characters.");
        }

        if (string.IsNullOrWhiteSpace(path))
        {
            throw new EdgeRuntimeException(ErrorCodes.BadRequest, "Load needs the path of an .onnx file.");
        }

        string fullPath = ResolvePath(path);
        await _loadGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_models.ContainsKey(name))
            {
                throw new EdgeRuntimeException(ErrorCodes.ModelExists, $"A model named '{name}' is already loaded; unload it first or pick another name.");
            }

            var model = await Task.Run(() => Open(name, fullPath, choice), cancellationToken).ConfigureAwait(false);
            if (batching is not null)
            {
                PlanBatches(model, batching);
            }

            _models[name] = model;
            return model;
        }
        finally
        {
            _loadGate.Release();
        }
    }

    /// <summary>Gives the model its batch plan; when the plan is refused, the model is closed and the error stands.</summary>
    private static void PlanBatches(LoadedModel model, BatchingOptions batching)
    {
        try
        {
            if (BatchPlan.Create(model.Name, model.Inputs, model.Outputs, batching) is { } plan)
            {
                model.EnableBatching(plan);
            }
        }
        catch
        {
            model.Retire();
            throw;
        }
    }

    public bool TryGet(string name, out LoadedModel model) => _models.TryGetValue(name, out model!);

    /// <summary>Takes a lease on a loaded model; the caller must <see cref="LoadedModel.Release"/> it.</summary>
    public LoadedModel Acquire(string name)
    {
        if (_models.TryGetValue(name, out var model) && model.TryAcquire())
        {
            return model;
        }

        string loaded = _models.IsEmpty ? "none" : string.Join(", ", _models.Keys.Order(StringComparer.Ordinal));
        throw new EdgeRuntimeException(ErrorCodes.UnknownModel, $"No model named '{name}' is loaded (loaded: {loaded}).");
    }

    public bool Unload(string name)
    {
        if (!_models.TryRemove(name, out var model))
        {
            return false;
        }

        model.Retire();
        return true;
    }

    public void Dispose()
    {
        foreach (string name in _models.Keys.ToArray())
        {
            Unload(name);
        }

        _loadGate.Dispose();
    }

    /// <summary>
    /// The providers for one model: the board's list, or the names given (each with the board's options for that
    /// provider when the board lists it, defaults otherwise).
    /// </summary>
    public ProviderChoice ResolveChoice(string[]? providers, string? onMissingProvider)
    {
        var board = Options.Providers;
        var action = board.OnMissing;
        if (onMissingProvider is not null && !MissingProviderActions.TryParse(onMissingProvider, out action))
        {
            throw new EdgeRuntimeException(ErrorCodes.BadRequest, $"onMissingProvider is '{onMissingProvider}'; it must be '{MissingProviderActions.Fallback}' or '{MissingProviderActions.Fail}'.");
        }

        if (providers is null)
        {
            return board with { OnMissing = action };
        }

        var specs = new List<ProviderSpec>();
        foreach (string provider in providers)
        {
            if (!ProviderNames.TryParse(provider, out _))
            {
                throw new EdgeRuntimeException(ErrorCodes.BadRequest, $"Unknown execution provider '{provider}' (known: {string.Join(", ", ProviderNames.All)}).");
            }

            specs.Add(board.Providers.FirstOrDefault(p => p.Name == provider) ?? new ProviderSpec { Name = provider });
        }

        return new ProviderChoice(specs, action) { KernelFallback = board.KernelFallback };
    }

    private LoadedModel Open(string name, string fullPath, ProviderChoice choice)
    {
        var file = new FileInfo(fullPath);
        if (!file.Exists)
        {
            throw new EdgeRuntimeException(ErrorCodes.ModelNotFound, $"Model file '{fullPath}' does not exist (relative paths are taken from the model directory '{ModelDirectory}').");
        }

        CheckMemoryBudget(fullPath, file.Length);
        var stopwatch = Stopwatch.StartNew();
        ProviderSession created;
        try
        {
            created = _sessionBuilder.Create(fullPath, Options, choice, Options.ProbePlacement);
        }
        catch (OnnxRuntimeException e)
        {
            throw new EdgeRuntimeException(ErrorCodes.ModelLoadFailed, $"ONNX Runtime could not load '{fullPath}': {CudaErrors.WithExplanation(e.Message)}", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new EdgeRuntimeException(ErrorCodes.ModelNotFound, $"Model file '{fullPath}' cannot be read: {e.Message}", e);
        }

        var session = created.Session;
        try
        {
            double loadMs = stopwatch.Elapsed.TotalMilliseconds;
            var placement = PlacementReport.NotProbed;
            bool pending = false;
            if (created.Profiling)
            {
                string? warmUpError = PlacementProbe.TryWarmUp(session);
                pending = warmUpError is not null;
                placement = pending
                    ? new PlacementReport([], $"known after the first request (the warm-up run on zero inputs failed: {warmUpError})")
                    : PlacementProbe.Harvest(session, "from ORT's profile of a warm-up run on zero inputs; nodes in branches that run did not take are not listed");
            }

            return new LoadedModel(name, fullPath, file.Length, session, created.Providers, loadMs, created.Warnings, placement, pending) { Rewrites = created.Rewrites };
        }
        catch (Exception e) when (e is OnnxRuntimeException or InvalidOperationException or NotSupportedException)
        {
            session.Dispose();
            if (created.ProfilePrefix is not null)
            {
                PlacementProbe.DeleteProfiles(created.ProfilePrefix);
            }

            throw new EdgeRuntimeException(ErrorCodes.ModelLoadFailed, $"'{fullPath}' loaded, but its inputs and outputs cannot be described: {e.Message}", e);
        }
    }

    private void CheckMemoryBudget(string fullPath, long modelBytes)
    {
        if (Options.MemoryBudgetBytes <= 0)
        {
            return;
        }

        // The weights are resident once the session exists, so the file size is the least a load will add.
        long resident = ProcessMemory.ResidentBytes();
        if (resident + modelBytes > Options.MemoryBudgetBytes)
        {
            throw new EdgeRuntimeException(ErrorCodes.MemoryBudgetExceeded, $"Loading '{fullPath}' ({modelBytes / 1048576.0:0.0} MiB) would take edged from {resident / 1048576.0:0.0} MiB past the board's memory budget of {Options.MemoryBudgetBytes / 1048576.0:0.0} MiB; unload a model or raise memory.budgetMiB in the board profile.");
        }
    }
}
