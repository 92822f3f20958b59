using System.CommandLine;
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
    public static Command CreateList(GlobalOptions global)
    {
        var command = new Command("pipelines", "Each pipeline: kind, runs and failures, latency budget, last configuration, profiles and its latency table.");
        global.SetConnectedAction(command, parseResult =>
        {
            bool json = parseResult.GetValue(global.Json);
            return async client =>
            {
                var pipelines = await client.PipelinesAsync().ConfigureAwait(false);
                if (json)
                {
                    Console.WriteLine(JsonSerializer.Serialize(new PipelineListResponse(pipelines), ProtocolJsonContext.Default.PipelineListResponse));
                }
                else
                {
                    PipelinePrinter.List(pipelines);
                }

                return 0;
            };
        });
        return command;
    }

    public static Command CreateLoad(GlobalOptions global)
    {
        var file = new Argument<string>("FILE.json")
        {
            Description = "a \"pipelines\" entry of edged.json (comments and trailing commas allowed); paths that exist from here are sent absolute",
        };
        var command = new Command("pipeline-load", "Declare a pipeline in the running daemon (or replace one of the same name).") { file };
        global.SetConnectedAction(command, parseResult =>
        {
            var definition = PipelineDefinitionFile.Read(parseResult.GetRequiredValue(file));
            bool json = parseResult.GetValue(global.Json);
            return async client =>
            {
                var status = await client.LoadPipelineAsync(definition).ConfigureAwait(false);
                if (json)
                {
                    Console.WriteLine(JsonSerializer.Serialize(status, ProtocolJsonContext.Default.PipelineStatus));
                }
                else
                {
                    PipelinePrinter.Status(status);
                }

                return 0;
            };
        });
        return command;
    }

    public static Command CreateRun(GlobalOptions global)
    {
        var run = new RunOptions();
        var command = run.Command;
        global.SetConnectedAction(command, parseResult =>
        {
            var request = run.Request(parseResult);
            string? timeline = parseResult.GetValue(run.Timeline);
            bool json = parseResult.GetValue(global.Json);
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
        });
        return command;
    }
}
