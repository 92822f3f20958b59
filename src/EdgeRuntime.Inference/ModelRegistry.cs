using System.Collections.Concurrent;
using System.Diagnostics;
using EdgeRuntime.Protocol;
using Microsoft.ML.OnnxRuntime;

namespace EdgeRuntime.Inference;

/// <summary>The loaded models by name. Load and unload are safe to call concurrently with inference.</summary>
public sealed class ModelRegistry(string modelDirectory, InferenceOptions options) : IDisposable
{
    private readonly ConcurrentDictionary<string, LoadedModel> _models = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _loadGate = new(1, 1);

    public string ModelDirectory { get; } = Path.GetFullPath(modelDirectory);

    public InferenceOptions Options { get; } = options;

    public int Count => _models.Count;

    public IEnumerable<LoadedModel> Models => _models.Values.OrderBy(m => m.Name, StringComparer.Ordinal);

    /// <summary>A relative path is taken from the model directory; an absolute one as it is.</summary>
    public string ResolvePath(string path) => Path.GetFullPath(Path.Combine(ModelDirectory, path));

    /// <summary>Loads a model and creates its session. Errors carry a protocol code and a message a person can act on.</summary>
    public async Task<LoadedModel> LoadAsync(string name, string path, CancellationToken cancellationToken = default)
    {
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

            var model = await Task.Run(() => Open(name, fullPath), cancellationToken).ConfigureAwait(false);
            _models[name] = model;
            return model;
        }
        finally
        {
            _loadGate.Release();
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

    private LoadedModel Open(string name, string fullPath)
    {
        var file = new FileInfo(fullPath);
        if (!file.Exists)
        {
            throw new EdgeRuntimeException(ErrorCodes.ModelNotFound, $"Model file '{fullPath}' does not exist (relative paths are taken from the model directory '{ModelDirectory}').");
        }

        var stopwatch = Stopwatch.StartNew();
        InferenceSession session;
        try
        {
            session = SessionFactory.Create(fullPath, Options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new EdgeRuntimeException(ErrorCodes.ModelLoadFailed, $"ONNX Runtime could not load '{fullPath}': {e.Message}", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new EdgeRuntimeException(ErrorCodes.ModelNotFound, $"Model file '{fullPath}' cannot be read: {e.Message}", e);
        }

        try
        {
            return new LoadedModel(name, fullPath, file.Length, session, [SessionFactory.CpuProvider], stopwatch.Elapsed.TotalMilliseconds);
        }
        catch (Exception e) when (e is OnnxRuntimeException or InvalidOperationException or NotSupportedException)
        {
            session.Dispose();
            throw new EdgeRuntimeException(ErrorCodes.ModelLoadFailed, $"'{fullPath}' loaded, but its inputs and outputs cannot be described: {e.Message}", e);
        }
    }
}
