using System.Globalization;
using System.Text.Json;
using EdgeRuntime.Client;
using EdgeRuntime.Protocol;
using EdgeRuntime.Visuals;

namespace EdgeRuntime.Cli;

/// <summary>
/// edgectl pipelines, pipeline-load, run and timeline. Each command's arguments (and the definition file) are checked
/// before connecting, so a typo exits 2 with its message whether or not the daemon is up; the returned function does
/// the work over the connection.
/// </summary>
internal static class PipelineCommands
{
    /// <summary>The work to do once connected, or null when <paramref name="command"/> is not a pipeline command.</summary>
    public static Func<EdgeClient, Task<int>>? Prepare(string command, Arguments args) => command switch
    {
        "pipelines" => PrepareList(args),
        "pipeline-load" => PrepareLoad(args),
        "run" => PrepareRun(args),
        "timeline" => TimelineCommand.Prepare(args),
        _ => null,
    };

    private static Func<EdgeClient, Task<int>> PrepareList(Arguments args)
    {
        args.AllowOnly();
        NoMorePositionals(args, 1);
        return async client =>
        {
            var pipelines = await client.PipelinesAsync().ConfigureAwait(false);
            if (args.Has("--json"))
            {
                Console.WriteLine(JsonSerializer.Serialize(new PipelineListResponse(pipelines), ProtocolJsonContext.Default.PipelineListResponse));
            }
            else
            {
                PipelinePrinter.List(pipelines);
            }

            return 0;
        };
    }

    private static Func<EdgeClient, Task<int>> PrepareLoad(Arguments args)
    {
        args.AllowOnly();
        NoMorePositionals(args, 2);
        var definition = PipelineDefinitionFile.Read(args.Positional(1, "pipeline definition (edgectl pipeline-load FILE.json)"));
        return async client =>
        {
            var status = await client.LoadPipelineAsync(definition).ConfigureAwait(false);
            if (args.Has("--json"))
            {
                Console.WriteLine(JsonSerializer.Serialize(status, ProtocolJsonContext.Default.PipelineStatus));
            }
            else
            {
                PipelinePrinter.Status(status);
            }

            return 0;
        };
    }

    private static Func<EdgeClient, Task<int>> PrepareRun(Arguments args)
    {
        args.AllowOnly("--input", "--index", "--mode", "--skip", "--no-skip", "--budget", "--config", "--clock", "--timeline");
        NoMorePositionals(args, 2);
        var request = RunRequest(args);
        string? timeline = args.Get("--timeline");
        bool json = args.Has("--json");
        return async client =>
        {
            var response = await client.RunPipelineAsync(request).ConfigureAwait(false);
            if (json)
            {
                Console.WriteLine(JsonSerializer.Serialize(response, ProtocolJsonContext.Default.PipelineRunResponse));
            }
            else
            {
                PipelinePrinter.Run(response);
            }

            if (timeline is not null)
            {
                var r = response.Result;
                File.WriteAllText(timeline, PipelineTimeline.RenderSvg(r, response.Id > 0 ? $"{r.Pipeline} #{response.Id}" : r.Pipeline));

                // stdout stays one JSON document under --json.
                (json ? Console.Error : Console.Out).WriteLine($"timeline written to {timeline}");
            }

            return 0;
        };
    }

    /// <summary>The run request the command line describes; every value is checked here, not by the daemon.</summary>
    internal static PipelineRunRequest RunRequest(Arguments args)
    {
        string pipeline = args.Positional(1, "pipeline name (edgectl run PIPELINE)");
        var inputs = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string spec in args.GetAll("--input"))
        {
            int equals = spec.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0 || equals == spec.Length - 1)
            {
                throw new UsageException($"--input takes NAME=PATH (a modality, or \"image\", and a replay file), not '{spec}'.");
            }

            if (!inputs.TryAdd(spec[..equals], LocalPaths.AbsoluteIfHere(spec[(equals + 1)..])))
            {
                throw new UsageException($"--input {spec[..equals]} is given twice.");
            }
        }

        if (args.Has("--skip") && args.Has("--no-skip"))
        {
            throw new UsageException("Give --skip or --no-skip, not both.");
        }

        string? clock = args.Get("--clock");
        if (clock is not (null or "realtime" or "fast"))
        {
            throw new UsageException($"--clock takes realtime or fast, not '{clock}'.");
        }

        PipelineConfiguration? configuration = null;
        if (args.Get("--config") is { } spec2)
        {
            try
            {
                configuration = PipelineConfigurationSpec.Parse(spec2);
            }
            catch (FormatException e)
            {
                throw new UsageException($"--config: {e.Message}");
            }
        }

        return new PipelineRunRequest(pipeline)
        {
            Inputs = inputs.Count == 0 ? null : inputs,
            Index = args.Get("--index") is { } index
                ? int.TryParse(index, NumberStyles.None, CultureInfo.InvariantCulture, out int i) ? i : throw new UsageException($"--index takes a whole number >= 0, not '{index}'.")
                : null,
            Mode = args.Get("--mode"),
            Skip = args.Has("--skip") ? true : args.Has("--no-skip") ? false : null,
            BudgetMs = args.Get("--budget") is { } budget
                ? double.TryParse(budget, NumberStyles.Float, CultureInfo.InvariantCulture, out double ms) && ms > 0 && double.IsFinite(ms) ? ms : throw new UsageException($"--budget takes milliseconds > 0, not '{budget}'.")
                : null,
            Configuration = configuration,
            Clock = clock,
        };
    }

    internal static void NoMorePositionals(Arguments args, int count)
    {
        if (args.Positionals.Count > count)
        {
            throw new UsageException($"Unexpected argument '{args.Positionals[count]}'.");
        }
    }
}
