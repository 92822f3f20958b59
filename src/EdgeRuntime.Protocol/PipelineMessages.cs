namespace EdgeRuntime.Protocol;

/// <summary>
/// A pipeline as declared in the daemon's "pipelines" configuration or sent in a pipeline-load request. The manifest
/// (written by the training script beside the models) names the models, the unit options and the accuracy table;
/// the definition says how this daemon runs them.
/// </summary>
public sealed record PipelineDefinition(string Name, string Kind, string Manifest)
{
    // Settable, not init: the source-generated reader assigns init properties missing from the JSON their type's
    // default (false, null, 0), which would silently drop the defaults below; setters are only called when present.

    /// <summary>mmedge: the post-sensing latency budget the optimizer fits a configuration into; null = most accurate.</summary>
    public double? BudgetMs { get; set; }

    /// <summary>mmedge: a fixed configuration, bypassing the optimizer.</summary>
    public PipelineConfiguration? Configuration { get; set; }

    /// <summary>mmedge: cross-modal speculative skipping at the manifest's checkpoints.</summary>
    public bool Skip { get; set; } = true;

    /// <summary>"realtime" paces replayed input at its recorded rate; "fast" releases it all at once.</summary>
    public string Clock { get; set; } = "realtime";

    /// <summary>cbnet: fall back to the full model when the cascade's confidence is below the manifest's threshold.</summary>
    public bool Gate { get; set; } = true;

    /// <summary>
    /// The inputs used when a run names none: input name (a modality, or "image") to a file to replay or a sensor to
    /// read live (<see cref="PipelineInput"/>).
    /// </summary>
    public Dictionary<string, PipelineInput> Inputs { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Live pipelines only: run continuously, a new run every this many milliseconds, each over the window that starts
    /// at its tick and follows the live stream (a sliding window; runs overlap when the hop is shorter than the
    /// window). Results go to the store.
    /// </summary>
    public double? HopMs { get; set; }

    /// <summary>mmedge: re-profile the latency table when a model's measured latency leaves [1/(1+d), 1+d] of its profile.</summary>
    public double DriftTolerance { get; set; } = 0.5;
}

/// <summary>An MMEdge configuration: for each modality, the encoder variant and how densely units are taken.</summary>
public sealed record PipelineConfiguration(ModalityChoice[] Modalities)
{
    /// <summary>Equal when the choices are, in order (a record alone would compare the array's reference).</summary>
    public bool Equals(PipelineConfiguration? other) =>
        other is not null && Modalities.AsSpan().SequenceEqual(other.Modalities);

    public override int GetHashCode()
    {
        var hash = default(HashCode);
        foreach (var modality in Modalities)
        {
            hash.Add(modality);
        }

        return hash.ToHashCode();
    }

    public override string ToString() => string.Join(", ", Modalities.Select(m => m.ToString()));
}

/// <summary>
/// One modality's choice: encoder variant ("small" | "large"), unit length in milliseconds (audio) and the stride
/// over frames (vision: every frame, or every second one).
/// </summary>
public sealed record ModalityChoice(string Modality, string Encoder, double UnitMs, int Stride)
{
    public override string ToString() => Stride > 1 || UnitMs <= 0
        ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{Modality} {Encoder} /{Stride}")
        : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{Modality} {Encoder} {UnitMs:0.#}ms");
}

/// <summary>Runs a pipeline once. Inputs name replay files on the daemon's machine (relative to its working folder).</summary>
public sealed record PipelineRunRequest(string Pipeline)
{
    /// <summary>Inputs by name (a file or a sensor); each replaces the definition's input of that name, and the others stay.</summary>
    public Dictionary<string, PipelineInput>? Inputs { get; init; }

    /// <summary>
    /// Insist on a live run: every input must name a sensor (a run whose inputs are sensors is live either way). The
    /// run starts now, or <see cref="PreMs"/> before now.
    /// </summary>
    public bool? Live { get; init; }

    /// <summary>A live run starts this many milliseconds back: what the sensors' buffers already hold becomes its first units.</summary>
    public double? PreMs { get; init; }

    /// <summary>The item of a multi-item input (an .npy holding N images): which one.</summary>
    public int? Index { get; init; }

    /// <summary>mmedge: "pipelined" (default) or "sequential". cbnet: "cascade" (default), "full", "light" or "early-exit".</summary>
    public string? Mode { get; init; }

    public bool? Skip { get; init; }

    public double? BudgetMs { get; init; }

    public PipelineConfiguration? Configuration { get; init; }

    public string? Clock { get; init; }
}

/// <summary>The answer to a run: the stored result's id (0 when the daemon keeps no store) and the result.</summary>
public sealed record PipelineRunResponse(long Id, PipelineResult Result);

public sealed record PipelineListResponse(PipelineStatus[] Pipelines);

public sealed record PipelineStatus(string Name, string Kind, string Manifest, long Runs, long Failures)
{
    public double? BudgetMs { get; init; }

    public PipelineConfiguration? LastConfiguration { get; init; }

    /// <summary>How often the latency table was profiled (once at load, again after each drift).</summary>
    public int Profiles { get; init; }

    public LatencyEntry[] LatencyTable { get; set; } = [];

    /// <summary>A continuous pipeline: its hop, the runs started, and hops dropped because too many runs were still going.</summary>
    public double? HopMs { get; init; }

    public long ContinuousRuns { get; init; }

    public long ContinuousDropped { get; init; }
}

/// <summary>A profiled model latency: one call of Model on a unit of UnitMs (0 when not unit-sized), in milliseconds.</summary>
public sealed record LatencyEntry(string Model, double UnitMs, double Ms);

/// <summary>
/// One pipeline result. Times are milliseconds from the run's start. PostSensingMs is the result's time minus the
/// time the last used unit was sensed: what a user waits once the world has stopped talking.
/// </summary>
public sealed record PipelineResult(string Pipeline, string Kind, string Mode, int Prediction, float[] Scores)
{
    public double SensingEndMs { get; init; }

    public double ResultMs { get; init; }

    public double PostSensingMs { get; init; }

    public PipelineConfiguration? Configuration { get; init; }

    /// <summary>What the optimizer decided and why (fits the budget, or nothing fits and the fastest was taken).</summary>
    public string? Decision { get; init; }

    public double? PredictedMs { get; init; }

    public bool? WithinBudget { get; init; }

    // The arrays are settable, not init, for the reason PipelineDefinition's are: a reader given JSON without them
    // (an older daemon, a hand-written result) keeps them empty instead of null.
    public PipelineStageTiming[] Stages { get; set; } = [];

    public PipelineUnitTrace[] Units { get; set; } = [];

    public PipelineCheckpoint[] Checkpoints { get; set; } = [];

    /// <summary>Per modality: units sensed, encoded and skipped.</summary>
    public ModalityCount[] Counts { get; set; } = [];

    /// <summary>cbnet: "cascade" (autoencoder + light classifier), "fallback" (full model), "exit" (early exit) ...</summary>
    public string? Path { get; init; }

    /// <summary>cbnet: the largest class probability the deciding stage saw.</summary>
    public double? Confidence { get; init; }

    /// <summary>A live run: the sensor each modality was read from ("audio" to "mic"), and where its first unit began (ms, may be before 0).</summary>
    public LiveInputTrace[] Live { get; set; } = [];

    /// <summary>
    /// cbnet on a camera: the frame as the camera took it (grey). Not sent in the run's JSON; the result store keeps
    /// it beside the scores as the output "frame".
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public CapturedFrame? Frame { get; init; }
}

/// <summary>One live input of a run: its sensor, the sensor's rate, and when (ms on the run's clock) its first unit began.</summary>
public sealed record LiveInputTrace(string Input, string Sensor, double SensorRate, double StartMs);

/// <summary>A camera frame as taken: grey bytes, row by row.</summary>
public sealed record CapturedFrame(int Width, int Height, byte[] Grey);

/// <summary>A stage's interval (aggregate:audio, fusion, gate, autoencoder, ...).</summary>
public sealed record PipelineStageTiming(string Name, double StartMs, double EndMs);

/// <summary>
/// One unit on the timeline. State: "encoded"; "skipped" (cut by speculative skipping: neither sensed nor encoded);
/// "dropped" (sensed just before a skip, never encoded); "unused" (sensed but not taken at this stride).
/// </summary>
public sealed record PipelineUnitTrace(string Modality, int Index, string State, double SensedMs, double EncodeStartMs, double EncodeEndMs);

/// <summary>A skip checkpoint: after Units units of the slow modality, the gate's probability and whether it cut in.</summary>
public sealed record PipelineCheckpoint(string Modality, int Units, double AtMs, double SkipProbability, bool Skipped);

public sealed record ModalityCount(string Modality, int Sensed, int Encoded, int Skipped);
