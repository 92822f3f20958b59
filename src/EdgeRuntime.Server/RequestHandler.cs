using System.Diagnostics;
using EdgeRuntime.Inference;
using EdgeRuntime.Inference.Batching;
using EdgeRuntime.Protocol;
using EdgeRuntime.Store;

namespace EdgeRuntime.Server;

/// <summary>Turns one request frame into its response. Knows nothing of sockets; every failure becomes an error response.</summary>
public sealed class RequestHandler(ModelRegistry registry, InferenceScheduler queue, ServerOptions options, ServerMetrics metrics, string[] providers, IHeadlessServices? headless = null, IPipelineServices? pipelines = null, IGenerationServices? generation = null)
{
    /// <summary>The daemon's language models; null when it serves none.</summary>
    internal IGenerationServices? Generation => generation;

    internal bool IsTensorModel(string name) => registry.TryGet(name, out _);

    /// <summary>The result store subscriptions read from; null when the daemon keeps none.</summary>
    internal ResultJournal? Journal => headless?.Journal;

    private static readonly int[] SupportedVersions = [FrameHeader.CurrentVersion];

    /// <summary>Takes a place in the inference queue for an infer request about to be read; see <see cref="InferenceScheduler"/>.</summary>
    internal ValueTask<InferenceScheduler.QueuePlace> EnterQueueAsync(CancellationToken cancellationToken) => queue.EnterAsync(cancellationToken);

    /// <param name="place">For infer: the queue place the connection took before reading it (given up here).</param>
    /// <param name="regions">The connection's shared-memory regions, which an infer may name; null: none.</param>
    /// <param name="mayBlockThread">The caller runs on its connection's own thread, which may wait for a worker (see <see cref="InferenceScheduler.RunAsync"/>).</param>
    internal async Task<Response> HandleAsync(MessageType type, byte[] json, ReadOnlyMemory<byte> payload, PeerInfo peer, CancellationToken cancellationToken, InferenceScheduler.QueuePlace? place = null, ConnectionRegions? regions = null, bool mayBlockThread = false)
    {
        try
        {
            if (type is MessageType.Models or MessageType.Stats or MessageType.Health or MessageType.Pipelines)
            {
                BodilessRequest.Check(type, json);
            }

            return type switch
            {
                MessageType.Hello => Hello(json, peer),
                MessageType.Models => Response.Ok(type, new ModelsResponse([.. registry.Models.Select(m => new ModelSummary(m.Name, m.Path, m.Providers, m.LoadedAt)), .. generation?.Models() ?? []]), ProtocolJsonContext.Default.ModelsResponse),
                MessageType.Load => await LoadAsync(json, cancellationToken).ConfigureAwait(false),
                MessageType.Unload => Unload(json),
                MessageType.Info => Info(json),
                MessageType.Infer => await InferAsync(json, payload, place, regions, mayBlockThread, cancellationToken).ConfigureAwait(false),
                MessageType.Stats => Stats(),
                MessageType.Health => Health(),
                MessageType.Inject => Inject(json),
                MessageType.Pipelines => Response.Ok(type, new PipelineListResponse(pipelines?.Pipelines() ?? []), ProtocolJsonContext.Default.PipelineListResponse),
                MessageType.PipelineLoad => await LoadPipelineAsync(json, cancellationToken).ConfigureAwait(false),
                MessageType.PipelineRun => await RunPipelineAsync(json, cancellationToken).ConfigureAwait(false),
                _ => Response.Error(type, ErrorCodes.UnknownMessage, $"Message type {(byte)type} is not part of protocol v1."),
            };
        }
        catch (EdgeRuntimeException e)
        {
            return Response.Error(type, e.Code, e.Message);
        }
        catch (OperationCanceledException)
        {
            return Response.Error(type, ErrorCodes.ShuttingDown, "The daemon is stopping; the request was not run.");
        }
        finally
        {
            place?.Dispose(); // already given up when the request ran; here when it failed before
        }
    }

    private Response Hello(byte[] json, PeerInfo peer)
    {
        if (json.Length > 0)
        {
            var request = ProtocolJson.Deserialize(json, ProtocolJsonContext.Default.HelloRequest);
            if (!request.ProtocolVersions.Contains(FrameHeader.CurrentVersion))
            {
                return Response.Error(MessageType.Hello, ErrorCodes.UnsupportedVersion, $"This daemon speaks protocol version {FrameHeader.CurrentVersion}; the client offered {string.Join(", ", request.ProtocolVersions)}.");
            }
        }

        var hello = new HelloResponse(FrameHeader.CurrentVersion, SupportedVersions, options.DaemonVersion, options.Board, providers, peer, options.Platform)
        {
            Features = options.SharedMemoryEnabled ? [ProtocolFeatures.SharedMemory] : [],
        };
        return Response.Ok(MessageType.Hello, hello, ProtocolJsonContext.Default.HelloResponse);
    }

    private async Task<Response> LoadAsync(byte[] json, CancellationToken cancellationToken)
    {
        var request = ProtocolJson.Deserialize(json, ProtocolJsonContext.Default.LoadRequest);
        if (generation is not null && generation.IsLanguageModel(request.Path))
        {
            if (registry.TryGet(request.Name, out _))
            {
                throw new EdgeRuntimeException(ErrorCodes.ModelExists, $"A model named '{request.Name}' is already loaded.");
            }

            return Response.Ok(MessageType.Load, await generation.LoadAsync(request, cancellationToken).ConfigureAwait(false), ProtocolJsonContext.Default.ModelInfo);
        }

        if (generation is not null && generation.TryGetInfo(request.Name, out _))
        {
            throw new EdgeRuntimeException(ErrorCodes.ModelExists, $"A language model named '{request.Name}' is already loaded.");
        }

        var model = await registry.LoadAsync(request.Name, request.Path, request.Providers, request.OnMissingProvider, cancellationToken, request.KernelFallback, BatchingOptions.From(request.MaxBatch, request.BatchAxes)).ConfigureAwait(false);
        return Response.Ok(MessageType.Load, model.ToInfo(), ProtocolJsonContext.Default.ModelInfo);
    }

    private Response Unload(byte[] json)
    {
        var request = ProtocolJson.Deserialize(json, ProtocolJsonContext.Default.NameRequest);
        if (!registry.Unload(request.Name) && generation?.Unload(request.Name) != true)
        {
            throw new EdgeRuntimeException(ErrorCodes.UnknownModel, $"No model named '{request.Name}' is loaded.");
        }

        return Response.Ok(MessageType.Unload, new UnloadResponse(request.Name, true), ProtocolJsonContext.Default.UnloadResponse);
    }

    private Response Info(byte[] json)
    {
        var request = ProtocolJson.Deserialize(json, ProtocolJsonContext.Default.NameRequest);
        if (registry.TryGet(request.Name, out var model))
        {
            return Response.Ok(MessageType.Info, model.ToInfo(), ProtocolJsonContext.Default.ModelInfo);
        }

        if (generation is not null && generation.TryGetInfo(request.Name, out var info))
        {
            return Response.Ok(MessageType.Info, info, ProtocolJsonContext.Default.ModelInfo);
        }

        throw new EdgeRuntimeException(ErrorCodes.UnknownModel, $"No model named '{request.Name}' is loaded.");
    }

    private async Task<Response> InferAsync(byte[] json, ReadOnlyMemory<byte> payload, InferenceScheduler.QueuePlace? place, ConnectionRegions? regions, bool mayBlockThread, CancellationToken cancellationToken)
    {
        long start = Stopwatch.GetTimestamp();
        var request = InferRequestJson.TryParse(json, out var plain) ? plain : ProtocolJson.Deserialize(json, ProtocolJsonContext.Default.InferRequest);
        if (generation is not null && !registry.TryGet(request.Model, out _) && generation.TryGetInfo(request.Model, out _))
        {
            throw new EdgeRuntimeException(ErrorCodes.WrongModelKind, $"'{request.Model}' is a language model: send generate (text in, tokens out), not infer.");
        }

        // The regions are held until the run is over: an unregister meanwhile unmaps nothing under it.
        using var lease = regions?.Lease(request);
        var result = await queue.RunAsync(registry, request, payload, cancellationToken, place, lease, mayBlockThread).ConfigureAwait(false);
        try
        {
            var timing = new InferTiming(result.QueuedUs, result.InferenceUs, Stopwatch.GetElapsedTime(start).TotalMicroseconds) { Batch = result.BatchSize > 1 ? result.BatchSize : null };
            var body = new InferResponse(request.Model, result.Outputs, timing);
            return new Response(MessageType.Infer, FrameFlags.Response, ProtocolJson.Serialize(body, ProtocolJsonContext.Default.InferResponse), result.Payload, result);
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    private Response Stats()
    {
        var models = registry.Models.Select(m =>
        {
            var s = m.Latency.Snapshot();
            return new ModelStats(m.Name, s.Count, s.Errors, s.MeanUs, s.P50Us, s.P99Us);
        });
        return Response.Ok(MessageType.Stats, new StatsResponse([.. models]), ProtocolJsonContext.Default.StatsResponse);
    }

    private Response Inject(byte[] json)
    {
        var request = ProtocolJson.Deserialize(json, ProtocolJsonContext.Default.InjectRequest);
        if (headless is null)
        {
            throw new EdgeRuntimeException(ErrorCodes.UnknownSensor, $"No sensors are configured, so there is no '{request.Sensor}' to inject into.");
        }

        return Response.Ok(MessageType.Inject, headless.Inject(request), ProtocolJsonContext.Default.InjectResponse);
    }

    private async Task<Response> LoadPipelineAsync(byte[] json, CancellationToken cancellationToken)
    {
        var definition = ProtocolJson.Deserialize(json, ProtocolJsonContext.Default.PipelineDefinition);
        var status = await Pipelines().LoadAsync(definition, cancellationToken).ConfigureAwait(false);
        return Response.Ok(MessageType.PipelineLoad, status, ProtocolJsonContext.Default.PipelineStatus);
    }

    private async Task<Response> RunPipelineAsync(byte[] json, CancellationToken cancellationToken)
    {
        var request = ProtocolJson.Deserialize(json, ProtocolJsonContext.Default.PipelineRunRequest);
        var response = await Pipelines().RunAsync(request, cancellationToken).ConfigureAwait(false);
        return Response.Ok(MessageType.PipelineRun, response, ProtocolJsonContext.Default.PipelineRunResponse);
    }

    private IPipelineServices Pipelines() =>
        pipelines ?? throw new EdgeRuntimeException(ErrorCodes.UnknownPipeline, "This daemon runs no pipelines.");

    private Response Health()
    {
        string[] problems = [.. metrics.Problems, .. headless?.Problems() ?? []];
        var health = new HealthResponse(
            problems.Length == 0 ? "ok" : "degraded",
            metrics.Uptime.TotalSeconds,
            metrics.Connections,
            Math.Max(0, metrics.InFlight - 1), // the health request itself is not counted
            queue.Depth,
            registry.Count + (generation?.Models().Length ?? 0),
            problems,
            [.. registry.Models.SelectMany(m => m.Warnings.Select(w => $"{m.Name}: {w}"))])
        {
            Sensors = headless?.Sensors() ?? [],
            Triggers = headless?.Triggers() ?? [],
            Store = headless?.Journal is { } journal
                ? new StoreStatus(journal.Directory, journal.FirstId, journal.LastId, journal.Bytes, journal.SegmentCount, journal.Commits)
                : null,
        };
        return Response.Ok(MessageType.Health, health, ProtocolJsonContext.Default.HealthResponse);
    }
}
