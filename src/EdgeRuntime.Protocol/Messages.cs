namespace EdgeRuntime.Protocol;

// The JSON headers of protocol v1, one record per message. Property names are camelCase on the wire
// (see ProtocolJsonContext). docs/protocol.md is the specification; keep the two in step.

public sealed record HelloRequest(int[] ProtocolVersions, string? Client = null);

public sealed record HelloResponse(
    int ProtocolVersion,
    int[] ProtocolVersions,
    string DaemonVersion,
    string Board,
    string[] Providers,
    PeerInfo Peer,
    string Platform = "")
{
    /// <summary>Optional parts of the protocol this daemon allows, e.g. <see cref="ProtocolFeatures.SharedMemory"/>.</summary>
    public string[] Features { get; init; } = [];
}

/// <summary>Names in <see cref="HelloResponse.Features"/>.</summary>
public static class ProtocolFeatures
{
    /// <summary>region-register and region-unregister are allowed, and infer may name regions.</summary>
    public const string SharedMemory = "shared-memory";
}

/// <summary>The credentials the kernel reported for the connecting process (SO_PEERCRED).</summary>
public sealed record PeerInfo(int Pid, uint Uid, uint Gid);

public sealed record EmptyRequest;

public sealed record NameRequest(string Name);

/// <summary>
/// Providers (board-profile names, in order) and onMissingProvider override the board profile for this model;
/// null keeps the profile's.
/// </summary>
public sealed record LoadRequest(string Name, string Path, string[]? Providers = null, string? OnMissingProvider = null)
{
    /// <summary>auto (default: the board's rule), force or off: which nodes move onto our ai.edgeruntime kernels.</summary>
    public string? KernelFallback { get; init; }

    /// <summary>Run up to this many waiting requests as one batch (docs/protocol.md, "Batching"); null or 1: never.</summary>
    public int? MaxBatch { get; init; }

    /// <summary>Each port's batch axis; null: every input and output along its first dimension.</summary>
    public Dictionary<string, int>? BatchAxes { get; init; }
}

public sealed record ModelsResponse(ModelSummary[] Models);

public sealed record ModelSummary(string Name, string Path, string[] Providers, DateTimeOffset LoadedAt)
{
    public string Kind { get; init; } = ModelKinds.Tensor;

    public int? ContextLength { get; init; }
}

/// <summary>A model's signature and where it runs. Shape dims of -1 are dynamic; their names are in SymbolicShape.</summary>
public sealed record ModelInfo(
    string Name,
    string Path,
    long SizeBytes,
    string[] Providers,
    TensorSpec[] Inputs,
    TensorSpec[] Outputs,
    double LoadMs,
    DateTimeOffset LoadedAt,
    string[] Warnings,
    NodePlacement[] Nodes,
    string? PlacementNote)
{
    /// <summary>Nodes rewritten onto our ai.edgeruntime kernels at load time, and why.</summary>
    public NodeRewrite[] Rewrites { get; init; } = [];

    /// <summary>The most requests one run takes when the model was loaded with maxBatch; null: no batching.</summary>
    public int? MaxBatch { get; init; }

    /// <summary>"tensor" (infer) or "language" (generate); see <see cref="ModelKinds"/>.</summary>
    public string Kind { get; init; } = ModelKinds.Tensor;

    /// <summary>A language model's context length in tokens (the cache each session gets); null for tensor models.</summary>
    public int? ContextLength { get; init; }

    /// <summary>A language model's family (e.g. "bitnet"); null for tensor models.</summary>
    public string? Family { get; init; }

    /// <summary>
    /// Bytes one session's state takes at full context: the KV cache of the attention layers and, in a hybrid model,
    /// the fixed conv state of its conv layers; null for tensor models.
    /// </summary>
    public long? SessionStateBytes { get; init; }

    /// <summary>A language model's layers by mixer, e.g. "10 conv + 6 attention"; null for tensor models.</summary>
    public string? Layers { get; init; }

    /// <summary>
    /// A language model's attention: "grouped-query" (exact), or DeltaAttention's settings and the share of the decode
    /// steps' q·k work it has skipped so far; null for tensor models.
    /// </summary>
    public string? Attention { get; init; }

    /// <summary>For a static-shape export (NPU): its prefill chunk and fixed cache, e.g. "prefill 32 tokens, decode 1, cache 256"; else null.</summary>
    public string? StaticShapes { get; init; }

    /// <summary>For a vision-language model: the image generate accepts (<see cref="GenerateRequest.Image"/>); null for text only.</summary>
    public ImageInputSpec? Image { get; init; }
}

/// <summary>
/// The image a vision-language model takes: height × width with this many channels (uint8 or float32), which becomes
/// <paramref name="Tokens"/> positions before the prompt; <paramref name="Encoder"/> is its form ("w8a16", "float32").
/// </summary>
public sealed record ImageInputSpec(int Height, int Width, int Channels, int Tokens, string Encoder);

/// <summary>What a loaded model answers: <c>infer</c> (tensor) or <c>generate</c> (language).</summary>
public static class ModelKinds
{
    public const string Tensor = "tensor";
    public const string Language = "language";
}

/// <summary>A node moved from its domain (com.microsoft, or "" for the ONNX standard) onto ai.edgeruntime.</summary>
public sealed record NodeRewrite(string Node, string OpType, string FromDomain, string Reason);

/// <summary>One node of the optimised graph and the execution provider that ran it.</summary>
public sealed record NodePlacement(string Node, string OpType, string Provider);

public sealed record TensorSpec(string Name, string Dtype, long[] Shape, string[] SymbolicShape);

/// <summary>Where one tensor's raw little-endian bytes sit: in the frame payload, or in a shared region.</summary>
public sealed record TensorDescriptor(string Name, string Dtype, long[] Shape, long Offset, long Length)
{
    /// <summary>The shared-memory region holding the bytes; null: the payload.</summary>
    public string? Region { get; init; }
}

public sealed record InferRequest(string Model, TensorDescriptor[] Inputs, string[]? Outputs = null)
{
    /// <summary>Write the outputs into this range of a shared region instead of the response payload.</summary>
    public RegionRange? OutputRegion { get; init; }
}

/// <summary>A range of bytes in a shared-memory region registered on the connection.</summary>
public sealed record RegionRange(string Region, long Offset, long Length);

/// <summary>region-register's answer: the region's size as the daemon mapped it.</summary>
public sealed record RegionRegisterResponse(string Name, long Size);

public sealed record RegionUnregisterResponse(string Name, bool Unregistered);

public sealed record InferResponse(string Model, TensorDescriptor[] Outputs, InferTiming Timing);

/// <summary>Microseconds spent waiting for a worker, inside ONNX Runtime, and from frame parsed to response written.</summary>
public sealed record InferTiming(double QueuedUs, double InferenceUs, double TotalUs)
{
    /// <summary>How many requests shared the run (batching); null when the request ran alone.</summary>
    public int? Batch { get; init; }
}

public sealed record StatsResponse(ModelStats[] Models);

public sealed record ModelStats(string Name, long Count, long Errors, double MeanUs, double P50Us, double P99Us);

public sealed record HealthResponse(
    string Status,
    double UptimeSeconds,
    int Connections,
    int InFlight,
    int QueueDepth,
    int Models,
    string[] Problems,
    string[] Warnings)
{
    /// <summary>Every configured sensor: state, last reading, readings and failures.</summary>
    public SensorStatus[] Sensors { get; init; } = [];

    /// <summary>Every configured trigger: how often it fired, was held off, completed or failed.</summary>
    public TriggerStatus[] Triggers { get; init; } = [];

    /// <summary>The result store: ids held, bytes, commits. Null when the daemon keeps no store.</summary>
    public StoreStatus? Store { get; init; }
}

/// <summary>
/// State is starting, ok, failed (retried with backoff; Message says why and when next) or stopped.
/// LastReading holds the newest value per channel.
/// </summary>
public sealed record SensorStatus(string Name, string Type, string State, SensorValue[] LastReading, long Readings, long Failures)
{
    /// <summary>Why the sensor failed or stopped, and when it is retried; absent while ok.</summary>
    public string? Message { get; init; }

    public DateTimeOffset? LastReadingAt { get; init; }

    /// <summary>An on-demand camera: seconds it has spent paused because no live run was reading it.</summary>
    public double? PausedSeconds { get; init; }

    /// <summary>How many live pipeline runs read it right now.</summary>
    public int Readers { get; init; }
}

public sealed record SensorValue(string Channel, double Value);

public sealed record TriggerStatus(string Name, string When, long Fired, long HeldOff, long Completed, long Failed)
{
    public DateTimeOffset? LastFiredAt { get; init; }

    /// <summary>Firings refused because too many runs were already waiting (the daemon cannot keep up).</summary>
    public long Dropped { get; init; }
}

public sealed record StoreStatus(string Path, long FirstId, long LastId, long Bytes, int Segments, long Commits);

/// <summary>
/// Since: deliver stored results with id greater than this first, then new ones as they are stored; null starts
/// with the next new result. Triggers: only results of these triggers (null: all).
/// </summary>
public sealed record SubscribeRequest(long? Since = null, string[]? Triggers = null);

/// <summary>LastId: the newest stored id when the subscription started; FirstId: the oldest still retained.</summary>
public sealed record SubscribeResponse(long FirstId, long LastId);

public sealed record UnsubscribeRequest(ulong RequestId);

public sealed record UnsubscribeResponse(ulong RequestId, bool Unsubscribed);

/// <summary>
/// A simulated sensor's input: an edge ("rising"/"falling") for a GPIO input, or channel values for a simulated
/// I2C sensor or series.
/// </summary>
public sealed record InjectRequest(string Sensor, string? Edge = null, SensorValue[]? Values = null);

public sealed record InjectResponse(string Sensor, DateTimeOffset At);

/// <summary>
/// One stored result, the JSON header of an <see cref="MessageType.Event"/> frame. Outputs lie in the frame's payload
/// as in an infer response. Error is set (and outputs empty) when the triggered run failed.
/// </summary>
public sealed record ResultEvent(
    long Id,
    string Trigger,
    string Cause,
    string Model,
    DateTimeOffset FiredAt,
    DateTimeOffset StoredAt,
    TensorDescriptor[] Outputs,
    ResultTiming Timing)
{
    /// <summary>The samples the run consumed; absent when the run failed before it had a window.</summary>
    public CaptureWindow? Window { get; init; }

    /// <summary>Why the run failed; absent on success.</summary>
    public string? Error { get; init; }

    /// <summary>The failure's <see cref="ErrorCodes"/> code (sensor_failed, inference_failed, ...); absent on success.</summary>
    public string? ErrorCode { get; init; }

    /// <summary>A scalar per output (its largest element), so a shell user sees the gist without decoding tensors.</summary>
    public SensorValue[] Summary { get; init; } = [];

    /// <summary>Set on results of a pipeline run: its prediction, per-stage latencies and per-unit timeline.</summary>
    public PipelineResult? Pipeline { get; init; }

    /// <summary>Set on a caption trigger's successful result: what the vision-language model (<see cref="Model"/>) said about the frame.</summary>
    public CaptionResult? Caption { get; init; }
}

/// <summary>
/// A camera frame's caption: the text, the tokens generated, and the milliseconds to the first token and in all, as
/// the captioner reported them.
/// </summary>
public sealed record CaptionResult(string Text, int Tokens, double FirstTokenMs, double TotalMs);

/// <summary>
/// The sensor stream a run consumed: from StartOffsetMs relative to the trigger (negative: before it) for DurationMs. A
/// caption's window is its one frame (Samples 1, Channels its pixels), taken StartOffsetMs after the firing.
/// </summary>
public sealed record CaptureWindow(string Sensor, double StartOffsetMs, double DurationMs, int Samples, int Channels);

/// <summary>
/// Microseconds from the trigger firing: until the window had been sensed and copied, queued and inside ONNX Runtime
/// (summed over frames), waiting for the store's writer, and in all until the record was written. The flush to disk
/// follows; the event is delivered only after it.
/// </summary>
public sealed record ResultTiming(double CaptureUs, double QueuedUs, double InferenceUs, double StoreUs, double TotalUs);

public sealed record UnloadResponse(string Name, bool Unloaded);

/// <summary>The JSON header of every frame flagged <see cref="FrameFlags.Error"/>.</summary>
public sealed record ErrorResponse(string Code, string Message);
