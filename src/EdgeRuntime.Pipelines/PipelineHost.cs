using System.Collections.Concurrent;
using System.Diagnostics;
using EdgeRuntime.Pipelines.Cbnet;
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
public sealed class PipelineHost(ModelInvoker invoker, string inputDirectory, ResultJournal? journal, Action<string> log)
{
    private readonly ConcurrentDictionary<string, IPipeline> _pipelines = new(StringComparer.Ordinal);

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

        string manifest = invoker.Registry.ResolvePath(definition.Manifest);
        if (!File.Exists(manifest))
        {
            throw new EdgeRuntimeException(ErrorCodes.BadRequest, $"Pipeline '{definition.Name}': no manifest at '{manifest}' (\"manifest\" is relative to the model directory).");
        }

        IPipeline pipeline;
        try
        {
            pipeline = definition.Kind switch
            {
                // Their models take the board profile's providers, like any model loaded without an override.
                "mmedge" => await MmedgePipeline.LoadAsync(definition, manifest, invoker, null, cancellationToken).ConfigureAwait(false),
                "cbnet" => await CbnetPipeline.LoadAsync(definition, manifest, invoker, null, cancellationToken).ConfigureAwait(false),
                _ => throw new EdgeRuntimeException(ErrorCodes.BadRequest, $"Pipeline '{definition.Name}': kind is 'mmedge' or 'cbnet', not '{definition.Kind}'."),
            };
        }
        catch (InvalidDataException e)
        {
            throw new EdgeRuntimeException(ErrorCodes.BadRequest, $"Pipeline '{definition.Name}': {e.Message}");
        }

        _pipelines[definition.Name] = pipeline;
        log($"pipeline {definition.Name} ({definition.Kind}) loaded: {pipeline.ModelNames.Count} models");
        return pipeline.Status();
    }

    public PipelineStatus[] Statuses() => [.. Pipelines.Select(p => p.Status())];

    /// <summary>Runs a pipeline once and stores the result (or the failure) before answering.</summary>
    /// <param name="cause">Why it ran, as stored in the result: "run" for a request, the trigger for a headless run.</param>
    public async Task<PipelineRunResponse> RunAsync(PipelineRunRequest request, CancellationToken cancellationToken, string cause = "run")
    {
        if (!_pipelines.TryGetValue(request.Pipeline ?? "", out var pipeline))
        {
            throw new EdgeRuntimeException(ErrorCodes.UnknownPipeline, $"No pipeline named '{request.Pipeline}'; there are: {(_pipelines.IsEmpty ? "none" : string.Join(", ", _pipelines.Keys.Order()))}.");
        }

        var firedAt = DateTimeOffset.UtcNow;
        long started = Stopwatch.GetTimestamp();
        PipelineResult result;
        try
        {
            result = await pipeline.RunAsync(request, inputDirectory, cancellationToken).ConfigureAwait(false);
        }
        catch (EdgeRuntimeException e) when (journal is not null && e.Code is not (ErrorCodes.BadRequest or ErrorCodes.InvalidInput))
        {
            // A run that failed inside (a model error) is a result too; a bad request is only answered.
            await StoreAsync(pipeline, cause, firedAt, started, null, e.Message).ConfigureAwait(false);
            throw;
        }

        long id = journal is null ? 0 : (await StoreAsync(pipeline, cause, firedAt, started, result, null).ConfigureAwait(false)).Id;
        return new PipelineRunResponse(id, result);
    }

    private async Task<JournalCommit> StoreAsync(IPipeline pipeline, string cause, DateTimeOffset firedAt, long started, PipelineResult? result, string? error)
    {
        long ran = Stopwatch.GetTimestamp();
        float[] scores = result?.Scores ?? [];
        byte[] payload = new byte[scores.Length * sizeof(float)];
        System.Runtime.InteropServices.MemoryMarshal.AsBytes(scores.AsSpan()).CopyTo(payload);
        TensorDescriptor[] outputs = result is null ? [] : [new TensorDescriptor("scores", "float32", [1, scores.Length], 0, payload.Length)];
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
                Error = error,
                Pipeline = result,
                Summary = result is null ? [] : [new SensorValue("prediction", result.Prediction), new SensorValue("postSensingMs", Math.Round(result.PostSensingMs, 3))],
            };
            return ProtocolJson.Serialize(stored, ProtocolJsonContext.Default.ResultEvent);
        }, payload, CancellationToken.None).ConfigureAwait(false);
    }
}
