using System.CommandLine;
using System.Globalization;
using EdgeRuntime.Client;
using EdgeRuntime.Protocol;
using EdgeRuntime.Visuals;

namespace EdgeRuntime.Cli;

/// <summary>
/// edgectl timeline PIPELINE [--id N] [--out FILE.svg]: draws a stored pipeline result. The result store is read
/// through subscriptions, the only way the protocol offers to fetch stored results.
/// </summary>
internal static class TimelineCommand
{
    /// <summary>Results read per backward slice when looking for the latest: bounded memory, and usually one slice.</summary>
    private const int Slice = 256;

    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    public static Command Create(GlobalOptions global)
    {
        var pipelineArgument = new Argument<string>("PIPELINE") { Description = "the pipeline whose stored result to draw" };
        var idOption = new Option<long?>("--id")
        {
            Description = "draw this stored result (default: the pipeline's latest)",
            HelpName = "N",
            CustomParser = ValueParsers.Single<long?>(
                (string text, out long? id) => (id = long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long n) && n > 0 ? n : null) is not null,
                text => $"--id takes a result id >= 1, not '{text}'."),
        };
        var outOption = new Option<string?>("--out") { Description = "the SVG file to write (default: PIPELINE-ID.svg here)", HelpName = "FILE.svg" };
        var command = new Command("timeline", "Draw a stored pipeline result as an SVG timeline (sensing, units, encoders, gate, fusion) and print the file's path.")
        {
            pipelineArgument, idOption, outOption,
        };
        global.SetConnectedAction(command, parseResult => Prepare(parseResult.GetRequiredValue(pipelineArgument), parseResult.GetValue(idOption), parseResult.GetValue(outOption)));
        return command;
    }

    private static Func<EdgeClient, Task<int>> Prepare(string pipeline, long? id, string? output)
    {
        return async client =>
        {
            using var patience = new CancellationTokenSource(Patience);
            ResultEvent? found;
            try
            {
                found = id is long n
                    ? await FindAsync(client, pipeline, n, patience.Token).ConfigureAwait(false)
                    : await FindLatestAsync(client, pipeline, patience.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (patience.IsCancellationRequested)
            {
                Console.Error.WriteLine($"edgectl: the result store did not answer within {Patience.TotalSeconds:0} s.");
                return 1;
            }

            if (found?.Pipeline is not { } result)
            {
                return 1;
            }

            string path = output ?? $"{FileName(pipeline)}-{found.Id.ToString(CultureInfo.InvariantCulture)}.svg";
            await File.WriteAllTextAsync(path, PipelineTimeline.RenderSvg(result, $"{pipeline} #{found.Id.ToString(CultureInfo.InvariantCulture)}")).ConfigureAwait(false);
            Console.WriteLine(path);
            return 0;
        };
    }

    /// <summary>Result <paramref name="id"/>: the first event of a subscription since id - 1, if it is that id.</summary>
    private static async Task<ResultEvent?> FindAsync(EdgeClient client, string pipeline, long id, CancellationToken cancellationToken)
    {
        await using var subscription = await client.SubscribeAsync(new SubscribeRequest(id - 1), cancellationToken).ConfigureAwait(false);
        var ack = subscription.Acknowledgement;

        // Past the newest stored id nothing would arrive until a new result is stored: do not wait for one.
        if (id > ack.LastId || id < ack.FirstId)
        {
            Console.Error.WriteLine(ack.LastId == 0
                ? $"edgectl: no result {id}: the result store is empty."
                : $"edgectl: no result {id}: the store holds ids {ack.FirstId}..{ack.LastId}.");
            return null;
        }

        var first = (await subscription.ReadAsync(cancellationToken).ConfigureAwait(false)).Event;
        if (first.Id != id)
        {
            Console.Error.WriteLine($"edgectl: no result {id}: it has been removed from the store.");
            return null;
        }

        if (first.Pipeline is null || first.Trigger != pipeline)
        {
            Console.Error.WriteLine($"edgectl: result {id} is not a result of pipeline '{pipeline}' (it is from '{first.Trigger}'{(first.Pipeline is null ? ", not a pipeline" : string.Empty)}).");
            return null;
        }

        return first;
    }

    /// <summary>
    /// The newest stored result of the pipeline. A subscription filtered to the pipeline cannot say when the stored
    /// results are all sent (the newest stored id may be another trigger's, and nothing marks the end of the replay), so
    /// the store is read unfiltered, newest slice first, each slice up to its known last id.
    /// </summary>
    private static async Task<ResultEvent?> FindLatestAsync(EdgeClient client, string pipeline, CancellationToken cancellationToken)
    {
        SubscribeResponse ack;
        await using (var probe = await client.SubscribeAsync(new SubscribeRequest(), cancellationToken).ConfigureAwait(false))
        {
            ack = probe.Acknowledgement;
        }

        long first = Math.Max(ack.FirstId, 1);
        for (long last = ack.LastId; last >= first; last = Math.Max(first - 1, last - Slice))
        {
            long since = Math.Max(first - 1, last - Slice);
            ResultEvent? latest = null;
            await using (var subscription = await client.SubscribeAsync(new SubscribeRequest(since), cancellationToken).ConfigureAwait(false))
            {
                // Ids are read up to the slice's last; one past it (stored meanwhile, or because retention removed the
                // rest of the slice) ends the slice too.
                while (true)
                {
                    var e = (await subscription.ReadAsync(cancellationToken).ConfigureAwait(false)).Event;
                    if (e.Id <= last && e.Pipeline is not null && e.Trigger == pipeline)
                    {
                        latest = e;
                    }

                    if (e.Id >= last)
                    {
                        break;
                    }
                }
            }

            if (latest is not null)
            {
                return latest;
            }
        }

        Console.Error.WriteLine(ack.LastId == 0
            ? $"edgectl: no stored result of pipeline '{pipeline}': the result store is empty."
            : $"edgectl: no stored result of pipeline '{pipeline}' among ids {ack.FirstId}..{ack.LastId}.");
        return null;
    }

    private static string FileName(string pipeline)
    {
        var invalid = Path.GetInvalidFileNameChars();
        return string.Concat(pipeline.Select(c => invalid.Contains(c) || char.IsWhiteSpace(c) ? '_' : c));
    }
}
