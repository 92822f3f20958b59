using System.Diagnostics;
using EdgeRuntime.Pipelines.Live;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Pipelines.Mmedge;

/// <summary>
/// What one MMEdge run does: its inputs (files to replay, or sensors read live from <see cref="Start"/>), mode,
/// skipping, budget or fixed configuration, and clock.
/// </summary>
public sealed record MmedgeRunOptions(string? AudioPath, string? FramesPath, IPipelineClock Clock)
{
    /// <summary>Read the audio live from this sensor instead of <see cref="AudioPath"/>.</summary>
    public string? AudioSensor { get; init; }

    /// <summary>Read the frames live from this camera instead of <see cref="FramesPath"/>.</summary>
    public string? VisionSensor { get; init; }

    /// <summary>Where the live inputs start; set when either is live.</summary>
    public LiveStart? Start { get; init; }

    public int? Index { get; init; }

    public bool Sequential { get; init; }

    public bool Skip { get; init; } = true;

    public double? BudgetMs { get; init; }

    public PipelineConfiguration? Configuration { get; init; }
}

/// <summary>
/// An MMEdge pipeline over two modalities (audio: the slow one; vision: the fast one). Each run: choose a
/// configuration (fixed, or the optimizer's under the budget), sense both streams and encode every unit as it arrives,
/// aggregate each modality after its last unit, fuse. With skipping, once vision is done the gate looks at the audio
/// so far at each checkpoint and may stop the audio source: the rest is neither sensed nor encoded.
/// </summary>
public sealed partial class MmedgePipeline : IPipeline
{
    /// <summary>Audio arrives from the replayed microphone in 20 ms blocks, as from an ALSA period.</summary>
    public const double AudioBlockMs = 20;

    private readonly ModelInvoker _invoker;
    private readonly LiveSensors? _live;
    private readonly MmedgeManifest _manifest;
    private readonly string _prefix;
    private readonly Lock _gate = new();
    private long _runs, _failures;
    private int _profiles, _driftStreak;
    private double _overheadMs;
    private PipelineConfiguration? _last;

    private MmedgePipeline(PipelineDefinition definition, MmedgeManifest manifest, ModelInvoker invoker, LiveSensors? live)
    {
        Definition = definition;
        _manifest = manifest;
        _invoker = invoker;
        _live = live;
        _prefix = definition.Name + ":";
    }

    public PipelineDefinition Definition { get; }

    public MmedgeManifest Manifest => _manifest;

    public LatencyTable Latency { get; } = new();

    public int Profiles => Volatile.Read(ref _profiles);

    public IReadOnlyList<string> ModelNames => [.. ModelFiles().Select(m => m.Name)];

    /// <summary>
    /// Loads every model of the manifest into the registry (under "PIPELINE:file") and profiles them. Inputs that name
    /// a sensor are checked against <paramref name="live"/> first: a sensor that cannot feed its encoder is refused.
    /// </summary>
    public static async Task<MmedgePipeline> LoadAsync(PipelineDefinition definition, string manifestPath, ModelInvoker invoker, string[]? providers, CancellationToken cancellationToken, LiveSensors? live = null)
    {
        var manifest = MmedgeManifest.Load(manifestPath);
        var pipeline = new MmedgePipeline(definition, manifest, invoker, live);
        pipeline.CheckLiveInputs(definition.Inputs, asLoaded: true);
        string folder = Path.GetDirectoryName(Path.GetFullPath(manifestPath))!;
        foreach (var (name, file) in pipeline.ModelFiles())
        {
            await invoker.LoadOrReuseAsync(name, Path.GetFullPath(Path.Combine(folder, file)), providers, "MMEdge", cancellationToken).ConfigureAwait(false);
        }

        if (definition.Configuration is { } fixedConfiguration)
        {
            pipeline.Validate(fixedConfiguration);
        }

        await pipeline.ProfileAsync(cancellationToken).ConfigureAwait(false);
        return pipeline;
    }

    private IEnumerable<(string Name, string File)> ModelFiles()
    {
        var m = _manifest.Models;
        foreach (var file in m.AudioEncoder.Values.Concat(m.VisionEncoder.Values).Concat(m.AudioAggregator.Values).Concat(m.VisionAggregator.Values).Append(m.Fusion).Append(m.Gate))
        {
            yield return (ModelName(file), file);
        }
    }

    private string ModelName(string file) => _prefix + Path.GetFileNameWithoutExtension(file);

    private string Encoder(string modality, string variant) =>
        ModelName(Pick(modality == "audio" ? _manifest.Models.AudioEncoder : _manifest.Models.VisionEncoder, modality, "encoder", variant));

    private string Aggregator(string modality, string variant) =>
        ModelName(Pick(modality == "audio" ? _manifest.Models.AudioAggregator : _manifest.Models.VisionAggregator, modality, "aggregator", variant));

    private static string Pick(Dictionary<string, string> files, string modality, string role, string variant) =>
        files.TryGetValue(variant, out string? file)
            ? file
            : throw new EdgeRuntimeException(ErrorCodes.BadRequest, $"There is no {modality} {role} '{variant}'; there are {string.Join(", ", files.Keys)}.");

    public PipelineStatus Status()
    {
        lock (_gate)
        {
            return new PipelineStatus(Definition.Name, "mmedge", Definition.Manifest, Interlocked.Read(ref _runs), Interlocked.Read(ref _failures))
            {
                BudgetMs = Definition.BudgetMs,
                LastConfiguration = _last,
                Profiles = _profiles,
                LatencyTable = [.. Latency.Entries(), new LatencyEntry("overhead (learned from runs)", 0, Math.Round(_overheadMs, 4))],
            };
        }
    }

    public Task<PipelineResult> RunAsync(PipelineRunRequest request, string inputDirectory, CancellationToken cancellationToken) =>
        RunAsync(request, inputDirectory, null, cancellationToken);

    public async Task<PipelineResult> RunAsync(PipelineRunRequest request, string inputDirectory, long? firedAt, CancellationToken cancellationToken)
    {
        var inputs = PipelineInputs.For(Definition, request);
        PipelineInput Input(string name) => inputs.TryGetValue(name, out var input)
            ? input
            : throw new EdgeRuntimeException(ErrorCodes.BadRequest, $"Pipeline '{Definition.Name}' needs an input '{name}' (a path to replay, or a sensor); it was given {(inputs.Count == 0 ? "none" : string.Join(", ", inputs.Keys))}.");

        string mode = request.Mode ?? "pipelined";
        if (mode is not ("pipelined" or "sequential"))
        {
            throw new EdgeRuntimeException(ErrorCodes.BadRequest, $"An MMEdge pipeline runs in mode 'pipelined' or 'sequential', not '{mode}'.");
        }

        PipelineInput audio = Input("audio"), vision = Input("vision");
        CheckLiveInputs(inputs, asLoaded: false);
        string clockName = request.Clock ?? Definition.Clock;
        var start = PipelineInputs.Start(Definition.Name, inputs, request, clockName, _live, firedAt);
        string? File(PipelineInput input) => input.Path is { } path ? Path.GetFullPath(Path.Combine(inputDirectory, path)) : null;
        var options = new MmedgeRunOptions(File(audio), File(vision), start is null ? PipelineClocks.Create(clockName) : new SensorClock(_live!.Time, start.RunStart))
        {
            AudioSensor = audio.Sensor,
            VisionSensor = vision.Sensor,
            Start = start,
            Index = request.Index,
            Sequential = mode == "sequential",
            Skip = request.Skip ?? Definition.Skip,
            BudgetMs = request.BudgetMs ?? Definition.BudgetMs,
            Configuration = request.Configuration ?? Definition.Configuration,
        };
        return await RunAsync(options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The side of the square frames the vision encoder takes (frameSize is side²).</summary>
    private int FrameSide => (int)Math.Round(Math.Sqrt(_manifest.FrameSize));

    /// <summary>
    /// Checks that each sensor input can feed its encoder (a mono stream at least the encoder's rate; a camera at least
    /// the frame rate and size) and has a ring to be read from. At load a failure is a broken definition; at run time
    /// (a sensor named by the request) a bad request.
    /// </summary>
    private void CheckLiveInputs(IReadOnlyDictionary<string, PipelineInput> inputs, bool asLoaded)
    {
        try
        {
            foreach (var (name, input) in inputs)
            {
                if (input.Sensor is not { } sensor)
                {
                    continue;
                }

                var live = _live ?? throw new InvalidDataException($"input '{name}' names sensor '{sensor}', and this daemon has no sensors.");
                switch (name)
                {
                    case "audio":
                        live.CheckAudio(name, sensor, _manifest.SampleRate);
                        break;
                    case "vision" when FrameSide * FrameSide != _manifest.FrameSize:
                        throw new InvalidDataException($"vision: the encoder takes frames of {_manifest.FrameSize} values, which is not a square picture, so it cannot be fed from camera '{sensor}'.");
                    case "vision":
                        live.CheckCamera(name, sensor, _manifest.FrameIntervalMs, FrameSide, FrameSide, "vision encoder");
                        break;
                    default:
                        throw new InvalidDataException($"input '{name}' names sensor '{sensor}'; an MMEdge pipeline reads 'audio' and 'vision'.");
                }
            }
        }
        catch (InvalidDataException e) when (!asLoaded)
        {
            throw new EdgeRuntimeException(ErrorCodes.BadRequest, $"Pipeline '{Definition.Name}': {e.Message}");
        }
    }

    /// <summary>The optimizer's view: every configuration with its predicted accuracy and latency.</summary>
    public IReadOnlyList<ConfigurationEstimate> Estimates() =>
        [.. _manifest.Configurations.Select(c =>
        {
            var configuration = ToConfiguration(c);
            return new ConfigurationEstimate(configuration, c.ValAccuracy, PredictPostSensingMs(configuration));
        })];

    public OptimizerDecision Decide(double? budgetMs) => ConfigurationOptimizer.Choose(Estimates(), budgetMs);

    /// <summary>
    /// The replayed schedule against the latency table, plus what the table cannot see: hand-offs between the stages'
    /// tasks and timer wake-ups, learned from real-time runs (<see cref="OverheadMs"/>).
    /// </summary>
    public double PredictPostSensingMs(PipelineConfiguration configuration) => PredictModelsMs(configuration) + OverheadMs;

    private double PredictModelsMs(PipelineConfiguration configuration) =>
        LatencyPredictor.PostSensingMs(Schedules(configuration), Latency[ModelName(_manifest.Models.Fusion), 0]);

    /// <summary>
    /// Post-sensing time real-time runs spent beyond the models' profiled latency (a moving average of measured minus
    /// predicted; 0 until the first run). It joins the latency table, so a budget is kept in measured terms.
    /// </summary>
    public double OverheadMs
    {
        get
        {
            lock (_gate)
            {
                return _overheadMs;
            }
        }
    }

    private void LearnOverhead(PipelineConfiguration configuration, double measuredMs)
    {
        double residual = Math.Max(0, measuredMs - PredictModelsMs(configuration));
        lock (_gate)
        {
            _overheadMs = _overheadMs == 0 ? residual : (0.8 * _overheadMs) + (0.2 * residual);
        }
    }

    private LatencyPredictor.ModalitySchedule[] Schedules(PipelineConfiguration configuration)
    {
        var audio = Choice(configuration, "audio");
        var vision = Choice(configuration, "vision");
        int audioUnits = (int)Math.Round(_manifest.AudioMs / audio.UnitMs);
        double[] audioArrivals = [.. Enumerable.Range(1, audioUnits).Select(i => i * audio.UnitMs)];
        double[] visionArrivals = [.. Enumerable.Range(1, _manifest.Frames).Where(k => k % vision.Stride == 0).Select(k => k * _manifest.FrameIntervalMs)];
        return
        [
            new(audioArrivals, Latency[Encoder("audio", audio.Encoder), audio.UnitMs], Latency[Aggregator("audio", audio.Encoder), 0]),
            new(visionArrivals, Latency[Encoder("vision", vision.Encoder), 0], Latency[Aggregator("vision", vision.Encoder), 0]),
        ];
    }

    internal static ModalityChoice Choice(PipelineConfiguration configuration, string modality) =>
        configuration.Modalities.FirstOrDefault(m => m.Modality == modality)
            ?? throw new EdgeRuntimeException(ErrorCodes.BadRequest, $"The configuration names no '{modality}' modality; it needs audio and vision.");

    private PipelineConfiguration ToConfiguration(MmedgeConfigurationAccuracy c) =>
        new([new ModalityChoice("audio", c.AudioEncoder, c.AudioUnitMs, 1), new ModalityChoice("vision", c.VisionEncoder, _manifest.FrameIntervalMs, c.VisionStride)]);

    /// <summary>The manifest's row for a configuration; a configuration it does not list is refused.</summary>
    internal MmedgeConfigurationAccuracy Validate(PipelineConfiguration configuration)
    {
        var audio = Choice(configuration, "audio");
        var vision = Choice(configuration, "vision");
        return _manifest.Configurations.FirstOrDefault(c =>
                c.AudioEncoder == audio.Encoder && c.AudioUnitMs == audio.UnitMs && c.VisionEncoder == vision.Encoder && c.VisionStride == Math.Max(1, vision.Stride))
            ?? throw new EdgeRuntimeException(ErrorCodes.BadRequest, $"'{configuration}' is not a configuration of this pipeline: audio encoders {string.Join("|", _manifest.Models.AudioEncoder.Keys)} at {string.Join("|", _manifest.AudioUnitMs)} ms, vision encoders {string.Join("|", _manifest.Models.VisionEncoder.Keys)} at stride {string.Join("|", _manifest.VisionStrides)}.");
    }

    /// <summary>Profiles every model on this device: the median of 15 timed calls after 3 warm-ups, per unit size.</summary>
    public async Task ProfileAsync(CancellationToken cancellationToken)
    {
        var random = new Random(7);
        float[] Noise(int n) => [.. Enumerable.Range(0, n).Select(_ => (float)((random.NextDouble() * 0.2) - 0.1))];
        foreach (var (variant, _) in _manifest.Models.AudioEncoder)
        {
            foreach (double unitMs in _manifest.AudioUnitMs)
            {
                int samples = (int)Math.Round(_manifest.SampleRate * unitMs / 1000);
                Latency[Encoder("audio", variant), unitMs] = await TimeAsync(Encoder("audio", variant), [("chunk", new FloatTensor(Noise(samples), [1, samples]))], cancellationToken).ConfigureAwait(false);
            }

            int maxUnits = (int)Math.Round(_manifest.AudioMs / _manifest.AudioUnitMs.Min());
            Latency[Aggregator("audio", variant), 0] = await TimeAsync(Aggregator("audio", variant), [("units", new FloatTensor(Noise(maxUnits * _manifest.Embedding), [1, maxUnits, _manifest.Embedding]))], cancellationToken).ConfigureAwait(false);
        }

        foreach (var (variant, _) in _manifest.Models.VisionEncoder)
        {
            Latency[Encoder("vision", variant), 0] = await TimeAsync(Encoder("vision", variant), [("frame", new FloatTensor(Noise(_manifest.FrameSize), [1, _manifest.FrameSize]))], cancellationToken).ConfigureAwait(false);
            Latency[Aggregator("vision", variant), 0] = await TimeAsync(Aggregator("vision", variant), [("units", new FloatTensor(Noise(_manifest.Frames * _manifest.Embedding), [1, _manifest.Frames, _manifest.Embedding]))], cancellationToken).ConfigureAwait(false);
        }

        int classes = _manifest.Classes;
        Latency[ModelName(_manifest.Models.Fusion), 0] = await TimeAsync(ModelName(_manifest.Models.Fusion), [("audio", new FloatTensor(Noise(classes), [1, classes])), ("vision", new FloatTensor(Noise(classes), [1, classes]))], cancellationToken).ConfigureAwait(false);
        Latency[ModelName(_manifest.Models.Gate), 0] = await TimeAsync(ModelName(_manifest.Models.Gate), [("x", new FloatTensor(Noise((2 * classes) + 1), [1, (2 * classes) + 1]))], cancellationToken).ConfigureAwait(false);
        lock (_gate)
        {
            _profiles++;
            _driftStreak = 0;
        }
    }

    private async Task<double> TimeAsync(string model, (string, FloatTensor)[] inputs, CancellationToken cancellationToken)
    {
        for (int i = 0; i < 3; i++)
        {
            await _invoker.RunAsync(model, inputs, cancellationToken).ConfigureAwait(false);
        }

        var times = new double[15];
        for (int i = 0; i < times.Length; i++)
        {
            long start = Stopwatch.GetTimestamp();
            await _invoker.RunAsync(model, inputs, cancellationToken).ConfigureAwait(false);
            times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }

        Array.Sort(times);
        return times[times.Length / 2];
    }
}
