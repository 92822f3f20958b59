using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using EdgeRuntime.Client;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Cli;

/// <summary>
/// edgectl run's command line: every value is checked while parsing (a typo exits 2 before anything connects), and
/// <see cref="Request"/> turns a parse into the run request sent to the daemon.
/// </summary>
internal sealed class RunOptions
{
    public RunOptions()
    {
        Command = new Command(
            "run",
            "Run a pipeline once over replayed or live input (its configured inputs unless --input replaces them) and print the "
            + "prediction, post-sensing latency, configuration and the optimizer's decision, units, checkpoints and stages.")
        {
            Pipeline, Inputs, Live, PreMs, Index, Mode, Skip, NoSkip, Budget, Configuration, Clock, Timeline,
        };
        Command.Validators.Add(result =>
        {
            if (result.GetResult(Skip) is not null && result.GetResult(NoSkip) is not null)
            {
                result.AddError("Give --skip or --no-skip, not both.");
            }
        });
    }

    public Command Command { get; }

    public Argument<string> Pipeline { get; } = new("PIPELINE") { Description = "a pipeline declared in edged.json or with pipeline-load" };

    public Option<NamedValue[]> Inputs { get; } = new("--input")
    {
        Description = "replace a configured input: mmedge audio=FILE.wav, vision=FILE.npy, .csv or a folder of .pgm frames; "
            + "cbnet image=FILE.npy or .pgm; or NAME=sensor:SENSOR to read one of the daemon's sensors live; repeat for more",
        HelpName = "NAME=PATH|sensor:SENSOR",
        Arity = ArgumentArity.OneOrMore,
        CustomParser = ParseInputs,
    };

    public Option<bool> Live { get; } = new("--live")
    {
        Description = "run now on what the sensors capture: every input must name a sensor (in the pipeline or with --input NAME=sensor:SENSOR)",
    };

    public Option<double?> PreMs { get; } = new("--pre-ms")
    {
        Description = "a live run starts this far back: what the sensors' buffers already hold becomes its first units",
        HelpName = "MS",
        CustomParser = ValueParsers.Single<double?>(
            (string text, out double? ms) => (ms = ValueParsers.PositiveFinite(text, out double v) ? v : null) is not null,
            text => $"--pre-ms takes milliseconds > 0, not '{text}'."),
    };

    public Option<int?> Index { get; } = new("--index")
    {
        Description = "which episode or image of the replay file to run (default 0)",
        HelpName = "N",
        CustomParser = ValueParsers.Single<int?>(
            (string text, out int? index) => (index = ValueParsers.WholeNumber(text, out int n) ? n : null) is not null,
            text => $"--index takes a whole number >= 0, not '{text}'."),
    };

    public Option<string?> Mode { get; } = new("--mode")
    {
        Description = "mmedge: pipelined (default) or sequential; cbnet: cascade (default), full, light or early-exit",
        HelpName = "MODE",
    };

    public Option<bool> Skip { get; } = new("--skip") { Description = "let the gate stop sensing the slow modality once it is sure (mmedge; default: the pipeline's setting)" };

    public Option<bool> NoSkip { get; } = new("--no-skip") { Description = "sense and encode every unit (mmedge)" };

    public Option<double?> Budget { get; } = new("--budget")
    {
        Description = "latency budget in milliseconds for the optimizer's choice of configuration (mmedge)",
        HelpName = "MS",
        CustomParser = ValueParsers.Single<double?>(
            (string text, out double? ms) => (ms = ValueParsers.PositiveFinite(text, out double v) ? v : null) is not null,
            text => $"--budget takes milliseconds > 0, not '{text}'."),
    };

    public Option<PipelineConfiguration?> Configuration { get; } = new("--config")
    {
        Description = "fix the configuration instead of letting the optimizer choose: MODALITY=ENCODER:UNIT_MS or "
            + "MODALITY=ENCODER:/STRIDE per modality, e.g. audio=large:100,vision=small:/2",
        HelpName = "SPEC",
        CustomParser = result =>
        {
            try
            {
                return PipelineConfigurationSpec.Parse(result.Tokens[^1].Value);
            }
            catch (FormatException e)
            {
                result.AddError($"--config: {e.Message}");
                return null;
            }
        },
    };

    public Option<string?> Clock { get; } = new("--clock")
    {
        Description = "realtime (default: the replay paced as the sensors would deliver it) or fast (no waiting)",
        HelpName = "realtime|fast",
        CustomParser = ValueParsers.Single<string?>(
            (string text, out string? clock) => (clock = text is "realtime" or "fast" ? text : null) is not null,
            text => $"--clock takes realtime or fast, not '{text}'."),
    };

    public Option<string?> Timeline { get; } = new("--timeline") { Description = "also draw the run as an SVG timeline into FILE", HelpName = "FILE.svg" };

    /// <summary>The run request the command line describes; its values were checked while parsing.</summary>
    public PipelineRunRequest Request(ParseResult parseResult)
    {
        var inputs = parseResult.GetValue(Inputs) ?? [];
        return new PipelineRunRequest(parseResult.GetRequiredValue(Pipeline))
        {
            // A relative path that exists from here is sent absolute; any other is the daemon's to resolve.
            Inputs = inputs.Length == 0 ? null : inputs.ToDictionary(i => i.Name, i => ToInput(i.Value), StringComparer.Ordinal),
            Live = parseResult.GetValue(Live) ? true : null,
            PreMs = parseResult.GetValue(PreMs),
            Index = parseResult.GetValue(Index),
            Mode = parseResult.GetValue(Mode),
            Skip = parseResult.GetValue(Skip) ? true : parseResult.GetValue(NoSkip) ? false : null,
            BudgetMs = parseResult.GetValue(Budget),
            Configuration = parseResult.GetValue(Configuration),
            Clock = parseResult.GetValue(Clock),
        };
    }

    /// <summary>"sensor:NAME" names a sensor; anything else is a file (sent absolute when it exists from here).</summary>
    private static PipelineInput ToInput(string value) =>
        value.StartsWith(SensorPrefix, StringComparison.Ordinal) ? PipelineInput.FromSensor(value[SensorPrefix.Length..]) : PipelineInput.FromPath(LocalPaths.AbsoluteIfHere(value));

    private const string SensorPrefix = "sensor:";

    private static NamedValue[]? ParseInputs(ArgumentResult result)
    {
        var inputs = ValueParsers.Each(
            ValueParsers.Named(valueRequired: true),
            text => $"--input takes NAME=PATH or NAME=sensor:SENSOR (a modality, or \"image\", and a replay file or a sensor), not '{text}'.")(result);
        if (inputs?.Where(i => i.Value == SensorPrefix).Select(i => i.Name).FirstOrDefault() is { } unnamed)
        {
            result.AddError($"--input {unnamed}=sensor: names no sensor.");
            return null;
        }

        if (inputs?.GroupBy(i => i.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } twice)
        {
            result.AddError($"--input {twice.Key} is given twice.");
            return null;
        }

        return inputs;
    }
}
