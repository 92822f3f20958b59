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
    public static async Task<int> RunAsync(EdgeClient client, Arguments args)
    {
        args.AllowOnly("--since", "--count", "--timeout", "--output-dir");
        string[] triggers = [.. args.Positionals.Skip(1)];
        long? since = args.Get("--since") is { } s
            ? long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out long v) ? v : throw new UsageException($"--since takes a result id (0 for everything kept), not '{s}'.")
            : null;
        int count = args.GetInt("--count", 0);
        double timeout = args.Get("--timeout") is { } t
            ? double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds) && seconds > 0 ? seconds : throw new UsageException($"--timeout takes seconds, not '{t}'.")
            : 0;
        string? outputDir = args.Get("--output-dir");
        bool json = args.Has("--json");

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

    private static string Describe(ResultEvent e)
    {
        if (e.Pipeline is { } pipeline && e.Error is null)
        {
            return PipelinePrinter.EventLine(e, pipeline);
        }

        string outcome = e.Error is not null
            ? $"error: {e.Error}"
            : string.Join(" ", e.Summary.Select(s => string.Create(CultureInfo.InvariantCulture, $"{s.Channel}={s.Value:0.###}")));
        var t = e.Timing;
        return string.Create(CultureInfo.InvariantCulture,
            $"{EventPrefix(e)}  {e.Cause}  {e.Model}: {outcome}  [{t.TotalUs / 1000:0.0} ms: window {t.CaptureUs / 1000:0.0}, model {t.InferenceUs / 1000:0.0}, store {t.StoreUs / 1000:0.0}]");
    }

    /// <summary>Id, trigger and local time, the start of every watch line (model and pipeline results alike).</summary>
    public static string EventPrefix(ResultEvent e) =>
        string.Create(CultureInfo.InvariantCulture, $"#{e.Id,-6} {e.Trigger,-12} {e.FiredAt.ToLocalTime():HH:mm:ss.fff}");

    public static async Task<int> InjectAsync(EdgeClient client, Arguments args)
    {
        args.AllowOnly("--edge", "--value");
        string sensor = args.Positional(1, "SENSOR");
        var values = args.GetAll("--value").Select(v =>
        {
            int eq = v.IndexOf('=', StringComparison.Ordinal);
            return eq > 0 && double.TryParse(v[(eq + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out double x)
                ? new SensorValue(v[..eq], x)
                : throw new UsageException($"--value takes CHANNEL=NUMBER, not '{v}'.");
        }).ToArray();
        string? edge = args.Get("--edge");
        if ((edge is null) == (values.Length == 0))
        {
            throw new UsageException("inject takes --edge rising|falling or one or more --value CHANNEL=NUMBER.");
        }

        var response = await client.InjectAsync(new InjectRequest(sensor, edge, values.Length == 0 ? null : values)).ConfigureAwait(false);
        if (!args.Has("--json"))
        {
            Console.WriteLine($"injected into {response.Sensor} at {response.At.ToLocalTime():HH:mm:ss.fff}");
        }

        return 0;
    }
}
