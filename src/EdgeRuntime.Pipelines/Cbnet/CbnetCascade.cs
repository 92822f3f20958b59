using System.Diagnostics;
using System.Globalization;
using EdgeRuntime.Inference;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Pipelines.Cbnet;

/// <summary>
/// A CBNet pipeline: a converting autoencoder turns a hard image into an easy one of the same class and a lightweight
/// classifier answers on it; with the gate on, an answer less confident than the manifest's threshold is replaced by
/// the full model's on the original image. The full model alone, the light classifier alone and a two-stage
/// early-exit network run as baselines. Every model runs through the <see cref="ModelInvoker"/>. Runs share no state,
/// so one instance serves concurrent requests.
/// </summary>
public sealed class CbnetCascade
{
    public const string Kind = "cbnet";

    /// <summary>
    /// The registry refuses '/' in model names (they appear in paths and listings), so a pipeline's models are named
    /// "{pipeline}:{role}", e.g. "fashion:autoencoder".
    /// </summary>
    public const char NameSeparator = ':';

    /// <summary>The modes <see cref="RunAsync"/> accepts.</summary>
    public static readonly IReadOnlyList<string> Modes = ["cascade", "full", "light", "early-exit"];

    /// <summary>Each model's role (its name suffix), file in the manifest, and the inputs and outputs this class uses.</summary>
    private static readonly (string Role, Func<CbnetModelFiles, string> File, string[] Inputs, string[] Outputs)[] Roles =
    [
        ("full", m => m.Full, ["image"], ["logits"]),
        ("light", m => m.Light, ["image"], ["logits"]),
        ("autoencoder", m => m.Autoencoder, ["image"], ["converted"]),
        ("exit1", m => m.EarlyExitStage1, ["image"], ["features", "exit_logits"]),
        ("exit2", m => m.EarlyExitStage2, ["features"], ["logits"]),
    ];

    private static readonly int Pixels = (int)CbnetManifest.InputShape.Aggregate(1L, (a, b) => a * b);

    private readonly ModelInvoker _invoker;
    private readonly string _full;
    private readonly string _light;
    private readonly string _autoencoder;
    private readonly string _exit1;
    private readonly string _exit2;

    private CbnetCascade(string pipeline, CbnetManifest manifest, ModelInvoker invoker)
    {
        Pipeline = pipeline;
        Manifest = manifest;
        _invoker = invoker;
        _full = ModelName(pipeline, "full");
        _light = ModelName(pipeline, "light");
        _autoencoder = ModelName(pipeline, "autoencoder");
        _exit1 = ModelName(pipeline, "exit1");
        _exit2 = ModelName(pipeline, "exit2");
        ModelNames = [_full, _light, _autoencoder, _exit1, _exit2];
    }

    public string Pipeline { get; }

    public CbnetManifest Manifest { get; }

    /// <summary>The gated cascade falls back to the full model when the light classifier's softmax max is below this.</summary>
    public double GateThreshold => Manifest.GateThreshold;

    /// <summary>The early-exit baseline answers at stage 1 when its softmax max is at least this.</summary>
    public double ExitThreshold => Manifest.ExitThreshold;

    /// <summary>The registry names of the five models, in the order full, light, autoencoder, exit1, exit2.</summary>
    public IReadOnlyList<string> ModelNames { get; }

    public static string ModelName(string pipeline, string role) => $"{pipeline}{NameSeparator}{role}";

    /// <summary>
    /// Reads the manifest and loads its five models (paths relative to the manifest's folder) into the invoker's
    /// registry. A model already loaded under its name from the same file is reused, so a pipeline can be loaded
    /// again, or two pipelines can share models by name; one loaded from another file is refused.
    /// </summary>
    /// <param name="providers">Provider names overriding the board's list for these models; null keeps the board's.</param>
    public static async Task<CbnetCascade> LoadAsync(string pipelineName, string manifestPath, ModelInvoker invoker, string[]? providers, CancellationToken cancellationToken)
    {
        var manifest = CbnetManifest.Load(manifestPath);
        string folder = Path.GetDirectoryName(Path.GetFullPath(manifestPath))!;
        foreach (var (role, file, inputs, outputs) in Roles)
        {
            string name = ModelName(pipelineName, role);
            string path = Path.GetFullPath(Path.Combine(folder, file(manifest.Models)));
            var model = await invoker.LoadOrReuseAsync(name, path, providers, "CBNet", cancellationToken).ConfigureAwait(false);
            CheckPorts(model, "input", model.Inputs, inputs);
            CheckPorts(model, "output", model.Outputs, outputs);
        }

        return new CbnetCascade(pipelineName, manifest, invoker);
    }

    /// <summary>
    /// Classifies one image: <paramref name="image"/> holds the 28×28 pixels row by row, scaled to [0, 1].
    /// <paramref name="gate"/> applies to "cascade" only.
    /// </summary>
    public async Task<PipelineResult> RunAsync(ReadOnlyMemory<float> image, string mode, bool gate, CancellationToken cancellationToken)
    {
        if (!Modes.Contains(mode))
        {
            throw new EdgeRuntimeException(ErrorCodes.BadRequest, $"CBNet mode '{mode}' is unknown; use one of {string.Join(", ", Modes)}.");
        }

        if (image.Length != Pixels)
        {
            throw new EdgeRuntimeException(ErrorCodes.BadRequest, $"A CBNet image has {Pixels} values (1×28×28, pixels/255); this one has {image.Length}.");
        }

        var timeline = new Timeline();
        var input = new FloatTensor(image.ToArray(), [.. CbnetManifest.InputShape]);
        string path;
        float[] logits;
        string? decision = null;
        switch (mode)
        {
            case "cascade":
                var converted = (await StageAsync(timeline, "autoencoder", _autoencoder, "image", input, cancellationToken).ConfigureAwait(false))["converted"];
                logits = (await StageAsync(timeline, "light", _light, "image", converted, cancellationToken).ConfigureAwait(false))["logits"].Data;
                path = "cascade";
                if (gate)
                {
                    double confidence = Logits.Softmax(logits).Confidence;
                    bool fallBack = confidence < GateThreshold;
                    decision = Compare("light", confidence, fallBack ? "<" : ">=", "gate", GateThreshold, fallBack ? "full model on the original image" : "cascade answers");
                    if (fallBack)
                    {
                        logits = (await StageAsync(timeline, "full", _full, "image", input, cancellationToken).ConfigureAwait(false))["logits"].Data;
                        path = "fallback";
                    }
                }

                break;
            case "full":
            case "light":
                logits = (await StageAsync(timeline, mode, mode == "full" ? _full : _light, "image", input, cancellationToken).ConfigureAwait(false))["logits"].Data;
                path = mode;
                break;
            default:
                var stage1 = await StageAsync(timeline, "exit-stage1", _exit1, "image", input, cancellationToken).ConfigureAwait(false);
                logits = stage1["exit_logits"].Data;
                double exitConfidence = Logits.Softmax(logits).Confidence;
                bool exit = exitConfidence >= ExitThreshold;
                decision = Compare("stage-1", exitConfidence, exit ? ">=" : "<", "exit", ExitThreshold, exit ? "exits" : "stage 2 answers");
                path = exit ? "exit" : "no-exit";
                if (!exit)
                {
                    logits = (await StageAsync(timeline, "exit-stage2", _exit2, "features", stage1["features"], cancellationToken).ConfigureAwait(false))["logits"].Data;
                }

                break;
        }

        var (scores, deciding) = Logits.Softmax(logits);
        double resultMs = timeline.NowMs;

        // The image is all there at the run's start, so everything after it is post-sensing time.
        return new PipelineResult(Pipeline, Kind, mode, Logits.ArgMax(logits), scores)
        {
            Path = path,
            Confidence = deciding,
            Decision = decision,
            Stages = [.. timeline.Stages],
            ResultMs = resultMs,
            PostSensingMs = resultMs,
        };
    }

    private static string Compare(string who, double confidence, string op, string threshold, double value, string outcome) =>
        string.Create(CultureInfo.InvariantCulture, $"{who} confidence {confidence:0.####} {op} {threshold} threshold {value:0.####}: {outcome}");

    private async ValueTask<ModelOutputs> StageAsync(Timeline timeline, string stage, string model, string inputName, FloatTensor input, CancellationToken cancellationToken)
    {
        double start = timeline.NowMs;
        var outputs = await _invoker.RunAsync(model, [(inputName, input)], cancellationToken).ConfigureAwait(false);
        timeline.Stages.Add(new PipelineStageTiming(stage, start, timeline.NowMs));
        return outputs;
    }

    /// <summary>Refuses a model without the ports this class feeds and reads, at load rather than at the first run.</summary>
    private static void CheckPorts(LoadedModel model, string kind, ModelSignature signature, string[] needed)
    {
        foreach (string port in needed)
        {
            if (signature.Find(port) is null)
            {
                throw new EdgeRuntimeException(ErrorCodes.ModelLoadFailed, $"CBNet model '{model.Path}' has no {kind} '{port}' (it has {signature.Names}); CBNet needs {kind}s {string.Join(", ", needed)}.");
            }
        }
    }

    /// <summary>One run's clock and the stages it has finished, in milliseconds from the run's start.</summary>
    private sealed class Timeline
    {
        private readonly long _start = Stopwatch.GetTimestamp();

        public List<PipelineStageTiming> Stages { get; } = [];

        public double NowMs => Stopwatch.GetElapsedTime(_start).TotalMilliseconds;
    }
}
