using System.Globalization;
using EdgeRuntime.Client;
using EdgeRuntime.Protocol;
using EdgeRuntime.Visuals;

namespace EdgeRuntime.Cli;

/// <summary>Formats pipeline answers for people: the pipeline table, a load's status, a run's result, a watch line.</summary>
internal static class PipelinePrinter
{
    // Arrays are null-checked: the source-generated reader leaves an array the JSON omits null (see PipelineTimeline).
    private static string Ms(double ms) => ms.ToString("0.0", CultureInfo.InvariantCulture) + " ms";

    private static string Configuration(PipelineConfiguration? configuration) =>
        configuration is null ? "-" : PipelineConfigurationSpec.Format(configuration);

    public static void List(PipelineStatus[] pipelines)
    {
        if (pipelines.Length == 0)
        {
            Console.WriteLine("no pipelines");
            return;
        }

        Console.WriteLine($"{"pipeline",-20} {"kind",-7} {"runs/failed",12} {"budget",10} {"profiles",8}  last configuration");
        foreach (var p in pipelines)
        {
            Console.WriteLine($"{p.Name,-20} {p.Kind,-7} {$"{p.Runs}/{p.Failures}",12} {(p.BudgetMs is { } b ? Ms(b) : "-"),10} {p.Profiles,8}  {Configuration(p.LastConfiguration)}");
        }

        foreach (var p in pipelines.Where(p => p.HopMs is not null))
        {
            Console.WriteLine($"{p.Name}: continuous, a run every {Ms(p.HopMs!.Value)}: {p.ContinuousRuns} started, {p.ContinuousDropped} hops dropped (a hop is dropped when 4 runs are still going)");
        }

        foreach (var p in pipelines.Where(p => p.LatencyTable.Length > 0))
        {
            Console.WriteLine();
            Console.WriteLine($"{p.Name}: latency table");
            LatencyTable(p.LatencyTable);
        }
    }

    public static void Status(PipelineStatus status)
    {
        Console.WriteLine($"pipeline       {status.Name} ({status.Kind})");
        Console.WriteLine($"manifest       {status.Manifest}");
        Console.WriteLine($"runs           {status.Runs}, {status.Failures} failed");
        Console.WriteLine($"budget         {(status.BudgetMs is { } b ? Ms(b) + " post-sensing" : "none (the most accurate configuration)")}");
        if (status.LastConfiguration is { } configuration)
        {
            Console.WriteLine($"configuration  {configuration}  (--config {Configuration(configuration)})");
        }

        Console.WriteLine($"profiled       {status.Profiles} time(s)");
        if (status.LatencyTable.Length > 0)
        {
            LatencyTable(status.LatencyTable);
        }
    }

    private static void LatencyTable(LatencyEntry[] table)
    {
        Console.WriteLine($"  {"model",-32} {"unit",9} {"latency",10}");
        foreach (var entry in table.OrderBy(e => e.Model, StringComparer.Ordinal).ThenBy(e => e.UnitMs))
        {
            Console.WriteLine($"  {entry.Model,-32} {(entry.UnitMs > 0 ? Ms(entry.UnitMs) : "-"),9} {Ms(entry.Ms),10}");
        }
    }

    public static void Run(PipelineRunResponse response)
    {
        var r = response.Result;
        string stored = response.Id > 0 ? $", stored as #{response.Id}" : string.Empty;
        Console.WriteLine($"{r.Pipeline} ({r.Kind}, {r.Mode}): prediction {Prediction(r)}{stored}");
        string sensed = r.Units is { Length: > 0 } ? "last unit sensed" : "input sensed";
        Console.WriteLine($"post-sensing   {Ms(r.PostSensingMs)} ({sensed} at {Ms(r.SensingEndMs)}, result at {Ms(r.ResultMs)})");
        foreach (var live in r.Live)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"live           {live.Input,-10} sensor {live.Sensor} at {live.SensorRate:0.##}/s, from {Ms(live.StartMs)}"));
        }

        if (r.Configuration is { } configuration)
        {
            Console.WriteLine($"configuration  {configuration}  (--config {Configuration(configuration)})");
        }

        if (r.Decision is not null || r.PredictedMs is not null)
        {
            string predicted = r.PredictedMs is { } p ? $"predicted {Ms(p)}" : string.Empty;
            predicted += r.WithinBudget switch { true => ", within budget", false => ", over budget", _ => string.Empty };
            Console.WriteLine($"optimizer      {r.Decision}{(r.Decision is not null && predicted.Length > 0 ? " — " : string.Empty)}{predicted}");
        }

        if (r.Path is not null || r.Confidence is not null)
        {
            Console.WriteLine($"cascade        path {r.Path ?? "-"}{(r.Confidence is { } c ? string.Create(CultureInfo.InvariantCulture, $", confidence {c:0.###}") : string.Empty)}");
        }

        foreach (var count in r.Counts)
        {
            Console.WriteLine($"units          {count.Modality,-10} {count.Sensed,4} sensed {count.Encoded,4} encoded {count.Skipped,4} skipped");
        }

        foreach (var c in r.Checkpoints)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"checkpoint     {c.Modality} after {c.Units} units at {Ms(c.AtMs)}: p(skip) {c.SkipProbability:0.000}{(c.Skipped ? "  SKIPPED the rest" : string.Empty)}"));
        }

        foreach (var s in r.Stages)
        {
            Console.WriteLine($"stage          {s.Name,-20} {Ms(s.StartMs),11} .. {Ms(s.EndMs),-11} {Ms(s.EndMs - s.StartMs)}");
        }
    }

    /// <summary>One line for edgectl watch, in place of the tensor summary a model trigger's result gets.</summary>
    public static string EventLine(ResultEvent e, PipelineResult r)
    {
        var parts = new List<string> { $"prediction {Prediction(r)}", $"post-sensing {Ms(r.PostSensingMs)}" };
        if (r.Configuration is { } configuration)
        {
            parts.Add(Configuration(configuration));
        }

        var skipped = r.Counts.Where(c => c.Skipped > 0).ToArray();
        if (skipped.Length > 0)
        {
            parts.Add("skipped " + string.Join(" ", skipped.Select(c => $"{c.Modality}={c.Skipped}")));
        }

        if (r.Path is not null)
        {
            parts.Add($"path {r.Path}");
        }

        if (r.Confidence is { } confidence)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"confidence {confidence:0.###}"));
        }

        return $"{WatchCommand.EventPrefix(e)}  {r.Kind} {r.Mode}: {string.Join(", ", parts)}";
    }

    private static string Prediction(PipelineResult r) =>
        r.Scores is { } scores && r.Prediction >= 0 && r.Prediction < scores.Length
            ? string.Create(CultureInfo.InvariantCulture, $"{r.Prediction} (score {scores[r.Prediction]:0.###})")
            : r.Prediction.ToString(CultureInfo.InvariantCulture);
}
