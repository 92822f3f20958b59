using System.Collections.Concurrent;
using System.Diagnostics;
using EdgeRuntime.Inference.Paths;
using EdgeRuntime.Pipelines.Cbnet;
using EdgeRuntime.Pipelines.Live;
using EdgeRuntime.Pipelines.Mmedge;
using EdgeRuntime.Protocol;
using EdgeRuntime.Store;

namespace EdgeRuntime.Pipelines;

/// <summary>
/// The daemon's pipelines: declared in the configuration or loaded over the socket, run on request. Every result (or
/// failure) is written to the result store before it is answered, so subscribers (`edgectl watch PIPELINE`) and the
/// caller see the same record.
/// </summary>
/// <param name="inputDirectory">What relative replay inputs in a run request resolve against.</param>
/// <param name="live">The daemon's sensors, for inputs that name one; null when it has none.</param>
/// <param name="inputRoots">
/// Folders, besides the input directory and the model registry's roots, that replay inputs may name by absolute path.
/// </param>
public sealed class PipelineHost(ModelInvoker invoker, string inputDirectory, ResultJournal? journal, Action<string> log, LiveSensors? live = null, IEnumerable<string>? inputRoots = null) : IAsyncDisposable
{
    // Replay files are read by the daemon on behalf of whoever asked: held to the model-path rules (inside the input
    // directory or under an allowed root, symlinks resolved, regular files and folders only, so a FIFO cannot block a run).
    private readonly ModelPaths _inputPaths = new(inputDirectory, [.. invoker.Registry.Paths.Roots, .. inputRoots ?? []], PathWording.PipelineInputs);
    private readonly ConcurrentDictionary<string, IPipeline> _pipelines = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ContinuousRuns> _continuous = new(StringComparer.Ordinal);
    private bool _sensorsRunning, _disposed;

    public IEnumerable<IPipeline> Pipelines => _pipelines.Values.OrderBy(p => p.Definition.Name, StringComparer.Ordinal);

    public bool TryGet(string name, out IPipeline pipeline) => _pipelines.TryGetValue(name, out pipeline!);

    /// <summary>Loads a pipeline (its models go into the registry); a pipeline of the same name is replaced.</summary>
    public async Task<PipelineStatus> LoadAsync(PipelineDefinition definition, CancellationToken cancellationToken)
    {
        // The configuration loader checked these for configured pipelines; one loaded over the socket is checked here.
        foreach (var (field, rule) in PipelineDefinitionRules.Broken(definition))
        {
            throw new EdgeRuntimeException(ErrorCodes.BadRequest, $"Pipeline '{definition.Name}': \"{field}\" {rule}.");
        }

        // The manifest is held to the model-path rules (path_not_allowed when it leads outside); one that is missing
        // or not a regular file is a mistake in the definition, as before.
        string manifest;
        try
        {
            manifest = invoker.Registry.ResolvePath(definition.Manifest);
        }
        catch (EdgeRuntimeException e) when (e.Code == ErrorCodes.ModelNotFound)
        {
            throw new EdgeRuntimeException(ErrorCodes.BadRequest, $"Pipeline '{definition.Name}': no manifest at '{definition.Manifest}' (\"manifest\" is relative to the model directory): {e.Message}");
        }

        IPipeline pipeline;
        try
        {
            pipeline = definition.Kind switch
            {
                // Their models take the board profile's providers, like any model loaded without an override.
                "mmedge" => await MmedgePipeline.LoadAsync(definition, manifest, invoker, null, cancellationToken, live).ConfigureAwait(false),
                "cbnet" => await CbnetPipeline.LoadAsync(definition, manifest, invoker, null, cancellationToken, live).ConfigureAwait(false),
                _ => throw new EdgeRuntimeException(ErrorCodes.BadRequest, $"Pipeline '{definition.Name}': kind is 'mmedge' or 'cbnet', not '{definition.Kind}'."),
            };
        }
        catch (InvalidDataException e)
        {
            throw new EdgeRuntimeException(ErrorCodes.BadRequest, $"Pipeline '{definition.Name}': {e.Message}");
        }

        _pipelines[definition.Name] = pipeline;
        log($"pipeline {definition.Name} ({definition.Kind}) loaded: {pipeline.ModelNames.Count} models");
        if (_continuous.TryRemove(definition.Name, out var replaced))
        {
            await replaced.DisposeAsync().ConfigureAwait(false);
        }

        if (definition.HopMs is not null && Volatile.Read(ref _sensorsRunning) && !Volatile.Read(ref _disposed))
        {
            StartContinuous(definition);
        }

        return pipeline.Status();
    }

    /// <summary>
    /// The sensors are running: start the continuous pipelines loaded so far (and, from now on, each one as it is
    /// loaded). Before this a continuous run would wait on sensors that have not started.
    /// </summary>
    public void StartContinuous()
    {
        Volatile.Write(ref _sensorsRunning, true);
        foreach (var pipeline in Pipelines.Where(p => p.Definition.HopMs is not null && !_continuous.ContainsKey(p.Definition.Name)))
        {
            StartContinuous(pipeline.Definition);
        }
    }

    private void StartContinuous(PipelineDefinition definition) =>
        _continuous[definition.Name] = ContinuousRuns.Start(this, definition.Name, definition.HopMs!.Value, live!.Time, log);

    /// <summary>The continuous runs of a pipeline with hopMs: started, and dropped because too many were still running.</summary>
    public (long Started, long Dropped) ContinuousCounts(string pipeline) =>
        _continuous.TryGetValue(pipeline, out var runs) ? (runs.Started, runs.Dropped) : (0, 0);

    /// <summary>
    /// Why a trigger cannot start this pipeline with a <paramref name="preMs"/> window, or null when it can: the
    /// pipeline must read a sensor, and every sensor it reads must keep the window.
    /// </summary>
    public string? TriggerWindowProblem(string pipeline, double preMs)
    {
        if (preMs <= 0 || !_pipelines.TryGetValue(pipeline, out var p))
        {
            return null;
        }

        var sensors = p.Definition.Inputs.Where(i => i.Value.IsLive).ToArray();
        if (sensors.Length == 0 || live is null)
        {
            return $"its pipeline '{pipeline}' replays files, so it has no window before the firing (preMs)";
        }

        var (input, sensor) = sensors.Select(i => (i.Key, i.Value.Sensor!)).FirstOrDefault(i => live.HistoryMs(i.Item2) < preMs);
        return sensor is null ? null : $"preMs {preMs} reaches further back than sensor '{sensor}' ({input} of '{pipeline}') keeps ({live.HistoryMs(sensor):0.#} ms; raise its bufferMs)";
    }

    public PipelineStatus[] Statuses() => [.. Pipelines.Select(p => _continuous.TryGetValue(p.Definition.Name, out var runs)
        ? p.Status() with { HopMs = p.Definition.HopMs, ContinuousRuns = runs.Started, ContinuousDropped = runs.Dropped }
        : p.Status())];

    /// <summary>Runs a pipeline once and stores the result (or the failure) before answering.</summary>
    /// <param name="cause">Why it ran, as stored in the result: "run" for a request, the trigger for a headless run.</param>
    /// <param name="firedAt">A trigger's firing on the sensors' clock: a live run starts there (less its pre-window) instead of now.</param>
    public async Task<PipelineRunResponse> RunAsync(PipelineRunRequest request, CancellationToken cancellationToken, string cause = "run", long? firedAt = null)
    {
        if (!_pipelines.TryGetValue(request.Pipeline ?? "", out var pipeline))
        {
            throw new EdgeRuntimeException(ErrorCodes.UnknownPipeline, $"No pipeline named '{request.Pipeline}'; there are: {(_pipelines.IsEmpty ? "none" : string.Join(", ", _pipelines.Keys.Order()))}.");
        }

        // A refused input path is only answered, like any bad request: nothing ran, so nothing is stored.
        var confined = ConfineInputs(pipeline.Definition, request);
        var startedAt = DateTimeOffset.UtcNow;
        long started = Stopwatch.GetTimestamp();
        PipelineResult result;
        try
        {
            result = await pipeline.RunAsync(confined, inputDirectory, firedAt, cancellationToken).ConfigureAwait(false);
        }
        catch (EdgeRuntimeException e) when (journal is not null && e.Code is not (ErrorCodes.BadRequest or ErrorCodes.InvalidInput))
        {
            // A run that failed inside (a model error, a sensor lost mid-run) is a result too; a bad request is only answered.
            await StoreAsync(pipeline, cause, startedAt, started, null, e).ConfigureAwait(false);
            throw;
        }

        long id = journal is null ? 0 : (await StoreAsync(pipeline, cause, startedAt, started, result, null).ConfigureAwait(false)).Id;
        return new PipelineRunResponse(id, result);
    }

    /// <summary>
    /// The request with every replay file it will read (its own, or the definition's it keeps) checked and named by
    /// its full path. Sensors are left as they are.
    /// </summary>
    private PipelineRunRequest ConfineInputs(PipelineDefinition definition, PipelineRunRequest request)
    {
        var confined = new Dictionary<string, PipelineInput>(StringComparer.Ordinal);
        foreach (var (name, input) in PipelineInputs.For(definition, request))
        {
            if (input.Path is not { } path)
            {
                confined[name] = input;
                continue;
            }

            try
            {
                confined[name] = PipelineInput.FromPath(_inputPaths.Resolve(path, PathTarget.FileOrFolder));
            }
            catch (EdgeRuntimeException e)
            {
                throw new EdgeRuntimeException(e.Code, $"Pipeline '{definition.Name}', input '{name}': {e.Message}");
            }
        }

        return request with { Inputs = confined };
    }

    private async Task<JournalCommit> StoreAsync(IPipeline pipeline, string cause, DateTimeOffset firedAt, long started, PipelineResult? result, EdgeRuntimeException? error)
    {
        long ran = Stopwatch.GetTimestamp();
        float[] scores = result?.Scores ?? [];
        int scoreBytes = scores.Length * sizeof(float);
        // A camera's frame is kept beside the scores, as the camera took it: what the run saw, for whoever looks later.
        var frame = result?.Frame;
        byte[] payload = new byte[scoreBytes + (frame?.Grey.Length ?? 0)];
        System.Runtime.InteropServices.MemoryMarshal.AsBytes(scores.AsSpan()).CopyTo(payload);
        frame?.Grey.CopyTo(payload, scoreBytes);
        TensorDescriptor[] outputs = result is null ? []
            : frame is null ? [new TensorDescriptor("scores", "float32", [1, scores.Length], 0, scoreBytes)]
            : [new TensorDescriptor("scores", "float32", [1, scores.Length], 0, scoreBytes), new TensorDescriptor("frame", "uint8", [frame.Height, frame.Width], scoreBytes, frame.Grey.Length)];
        // The result is stored even when the caller has gone: it was computed, and a subscriber may want it.
        return await journal!.AppendAsync(pipeline.Definition.Name, (id, storedAt) =>
        {
            long now = Stopwatch.GetTimestamp();
            var timing = new ResultTiming(
                (result?.SensingEndMs ?? 0) * 1000,
                0,
                (result?.PostSensingMs ?? 0) * 1000,
                Stopwatch.GetElapsedTime(ran, now).TotalMicroseconds,
                Stopwatch.GetElapsedTime(started, now).TotalMicroseconds);
            var stored = new ResultEvent(id, pipeline.Definition.Name, cause, pipeline.Definition.Kind, firedAt, storedAt, outputs, timing)
            {
                Error = error?.Message,
                ErrorCode = error?.Code,
                Pipeline = result,
                Summary = result is null ? [] : [new SensorValue("prediction", result.Prediction), new SensorValue("postSensingMs", Math.Round(result.PostSensingMs, 3))],
            };
            return ProtocolJson.Serialize(stored, ProtocolJsonContext.Default.ResultEvent);
        }, payload, CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>Stops the continuous runs, all at once (each run in progress finishes and is stored, or is cancelled after 5 s).</summary>
    public async ValueTask DisposeAsync()
    {
        Volatile.Write(ref _disposed, true);
        var stopping = new List<Task>();
        foreach (var name in _continuous.Keys)
        {
            if (_continuous.TryRemove(name, out var runs))
            {
                stopping.Add(runs.DisposeAsync().AsTask());
            }
        }

        await Task.WhenAll(stopping).ConfigureAwait(false);
    }
}
