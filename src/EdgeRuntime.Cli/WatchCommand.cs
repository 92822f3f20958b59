using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using EdgeRuntime.Client;
using EdgeRuntime.Protocol;
using EdgeRuntime.Formats;

namespace EdgeRuntime.Cli;

/// <summary>
/// edgectl watch: print stored results as they arrive (or, with --since, everything after an id first). One line per
/// result for people, one JSON object per line with --json for scripts; --output-dir also writes each result's tensors.
/// </summary>
internal static class WatchCommand
{
    public static Command Create(GlobalOptions global)
    {
        var triggers = new Argument<string[]>("TRIGGER")
        {
            Description = "only these triggers' or pipelines' results (default: all)",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var since = new Option<long?>("--since")
        {
            Description = "first replay the stored results after ID (0: all kept), then follow new ones, so a script resumes where it stopped",
            HelpName = "ID",
            CustomParser = ValueParsers.Single<long?>(
                (string text, out long? id) => (id = long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long v) ? v : null) is not null,
                text => $"--since takes a result id (0 for everything kept), not '{text}'."),
        };
        var count = FileCommands.PositiveInt("--count", "N", "stop after N results (default: keep watching); exit 1 if --timeout passes first", 0);
        var timeout = new Option<double>("--timeout")
        {
            Description = "stop after SECONDS",
            HelpName = "SECONDS",
            CustomParser = ValueParsers.Single<double>(ValueParsers.PositiveFinite, text => $"--timeout takes seconds, not '{text}'."),
        };
        var outputDir = new Option<string?>("--output-dir") { Description = "also write each result's tensors to DIR/<id>/<output>.npy", HelpName = "DIR" };
        var command = new Command(
            "watch",
            "Print stored results as triggers and pipelines produce them, one line each (--json: one JSON object per line), until Ctrl-C. "
            + "A pipeline result prints its prediction, post-sensing latency and configuration.")
        {
            triggers, since, count, timeout, outputDir,
        };
        global.SetConnectedAction(command, parseResult =>
        {
            var options = new Options(
                parseResult.GetValue(triggers) ?? [],
                parseResult.GetValue(since),
                parseResult.GetValue(count),
                parseResult.GetValue(timeout),
                parseResult.GetValue(outputDir),
                parseResult.GetValue(global.Json));
            return client => RunAsync(client, options);
        });
        return command;
    }

    private sealed record Options(string[] Triggers, long? Since, int Count, double Timeout, string? OutputDir, bool Json);

    private static async Task<int> RunAsync(EdgeClient client, Options options)
    {
        var (triggers, since, count, timeout, outputDir, json) = options;
        using var stop = new CancellationTokenSource();
        if (timeout > 0)
        {
            stop.CancelAfter(TimeSpan.FromSeconds(timeout));
        }

        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            stop.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        int received = 0;
        try
        {
            await using var subscription = await client.SubscribeAsync(new SubscribeRequest(since, triggers.Length == 0 ? null : triggers), stop.Token).ConfigureAwait(false);
            var ack = subscription.Acknowledgement;
            if (!json)
            {
                Console.Error.WriteLine(since is long from && from + 1 < ack.FirstId
                    ? $"watching; ids {from + 1}..{ack.FirstId - 1} were removed by retention, starting at {ack.FirstId}"
                    : $"watching; the store holds ids {ack.FirstId}..{ack.LastId}");
            }

            await foreach (var result in subscription.ReadAllAsync(stop.Token).ConfigureAwait(false))
            {
                received++;
                Console.WriteLine(json ? JsonSerializer.Serialize(result.Event, ProtocolJsonContext.Default.ResultEvent) : Describe(result.Event));
                if (outputDir is not null)
                {
                    string folder = Path.Combine(outputDir, result.Event.Id.ToString(CultureInfo.InvariantCulture));
                    Directory.CreateDirectory(folder);
                    foreach (var tensor in result.Outputs)
                    {
                        NpyFile.Write(Path.Combine(folder, tensor.Name + ".npy"), tensor);
                    }
                }

                if (count > 0 && received >= count)
                {
                    return 0;
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }

        if (count > 0 && received < count)
        {
            Console.Error.WriteLine($"edgectl: timeout: {received} of {count} results arrived within {timeout} s");
            return 1;
        }

        return 0;
    }

    /// <summary>One watch line: the outputs' summary, a caption's text, or the error, then where the time went.</summary>
    internal static string Describe(ResultEvent e)
    {
        if (e.Pipeline is { } pipeline && e.Error is null)
        {
            return PipelinePrinter.EventLine(e, pipeline);
        }

        string outcome = e.Error is not null ? $"error: {e.Error}"
            : e.Caption is { } caption ? string.Create(CultureInfo.InvariantCulture, $"\"{caption.Text}\" ({caption.Tokens} tokens, first after {caption.FirstTokenMs:0.0} ms)")
            : string.Join(" ", e.Summary.Select(s => string.Create(CultureInfo.InvariantCulture, $"{s.Channel}={s.Value:0.###}")));
        var t = e.Timing;
        return string.Create(CultureInfo.InvariantCulture,
            $"{EventPrefix(e)}  {e.Cause}  {e.Model}: {outcome}  [{t.TotalUs / 1000:0.0} ms: window {t.CaptureUs / 1000:0.0}, model {t.InferenceUs / 1000:0.0}, store {t.StoreUs / 1000:0.0}]");
    }

    /// <summary>Id, trigger and local time, the start of every watch line (model and pipeline results alike).</summary>
    public static string EventPrefix(ResultEvent e) =>
        string.Create(CultureInfo.InvariantCulture, $"#{e.Id,-6} {e.Trigger,-12} {e.FiredAt.ToLocalTime():HH:mm:ss.fff}");

    public static Command CreateInject(GlobalOptions global)
    {
        var sensor = new Argument<string>("SENSOR") { Description = "a sensor configured with \"simulated\": true" };
        var edge = new Option<string?>("--edge") { Description = "a GPIO edge on a simulated button or pin", HelpName = "rising|falling" };
        var values = new Option<SensorValue[]>("--value")
        {
            Description = "a reading on a simulated channel sensor, e.g. temperature=31.5; repeat for more channels",
            HelpName = "CHANNEL=NUMBER",
            Arity = ArgumentArity.OneOrMore,
            CustomParser = ValueParsers.Each<SensorValue>(
                (string text, out SensorValue value) =>
                {
                    int eq = text.IndexOf('=', StringComparison.Ordinal);
                    if (eq > 0 && ValueParsers.Number(text[(eq + 1)..], out double reading))
                    {
                        value = new SensorValue(text[..eq], reading);
                        return true;
                    }

                    value = null!;
                    return false;
                },
                text => $"--value takes CHANNEL=NUMBER, not '{text}'."),
        };
        var command = new Command("inject", "Feed a simulated sensor an edge or readings, as if the hardware had produced them.") { sensor, edge, values };
        command.Validators.Add(result =>
        {
            if ((result.GetResult(edge) is null) == (result.GetResult(values) is null))
            {
                result.AddError("inject takes --edge rising|falling or one or more --value CHANNEL=NUMBER.");
            }
        });
        global.SetConnectedAction(command, parseResult =>
        {
            string name = parseResult.GetRequiredValue(sensor);
            string? edgeName = parseResult.GetValue(edge);
            var readings = parseResult.GetValue(values) is { Length: > 0 } given ? given : null;
            bool json = parseResult.GetValue(global.Json);
            return client => InjectAsync(client, new InjectRequest(name, edgeName, readings), json);
        });
        return command;
    }

    private static async Task<int> InjectAsync(EdgeClient client, InjectRequest request, bool json)
    {
        var response = await client.InjectAsync(request).ConfigureAwait(false);
        if (!json)
        {
            Console.WriteLine($"injected into {response.Sensor} at {response.At.ToLocalTime():HH:mm:ss.fff}");
        }

        return 0;
    }
}
