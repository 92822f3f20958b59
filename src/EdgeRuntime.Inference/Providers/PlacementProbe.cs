using System.Text.Json;
using EdgeRuntime.Protocol;
using Microsoft.ML.OnnxRuntime;

namespace EdgeRuntime.Inference.Providers;

/// <summary>Which provider runs each node of the optimised graph, as ORT reported it for the warm-up run.</summary>
public sealed record PlacementReport(NodePlacement[] Nodes, string? Note)
{
    public static readonly PlacementReport NotProbed = new([], "placement not probed");
}

/// <summary>
/// Finds where each node runs by profiling a run. ORT's profiler records, per executed kernel, the node name, op type
/// and provider: the ground truth after partitioning and fusion, for any provider, which a capability query before
/// partitioning is not. The run is a warm-up on zero inputs at load; a model that rejects zeros (a reflect pad on a
/// length-1 input, say) is profiled on its first real request instead. Profiling is switched off right after.
/// </summary>
public static class PlacementProbe
{
    private const string KernelSuffix = "_kernel_time";

    /// <summary>Turns profiling on; returns the file prefix ORT will write under (see <see cref="DeleteProfiles"/>).</summary>
    internal static string Enable(SessionOptions options)
    {
        // The prefix must be set before profiling is enabled: enabling passes the prefix set at that moment.
        string prefix = Path.Combine(Path.GetTempPath(), $"edged-placement-{Environment.ProcessId}-{Guid.NewGuid():N}");
        options.ProfileOutputPathPrefix = prefix;
        options.EnableProfiling = true;
        return prefix;
    }

    /// <summary>Removes what ORT wrote for a session that failed to build or was disposed unread.</summary>
    internal static void DeleteProfiles(string prefix)
    {
        try
        {
            foreach (string file in Directory.EnumerateFiles(Path.GetDirectoryName(prefix)!, Path.GetFileName(prefix) + "*"))
            {
                File.Delete(file);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: a leftover in the temporary folder does no harm beyond its size.
        }
    }

    /// <summary>Runs the session once on zero-filled inputs (dynamic dims as 1). Returns why it failed, or null.</summary>
    public static string? TryWarmUp(InferenceSession session)
    {
        try
        {
            WarmUp(session);
            return null;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Informational only: a model the warm-up cannot feed is profiled on its first request instead.
            return e.Message.Trim();
        }
    }

    /// <summary>Ends profiling (later runs are not profiled) and reads which provider ran each node so far. Never throws for a model's sake.</summary>
    public static PlacementReport Harvest(InferenceSession session, string note)
    {
        string file;
        try
        {
            file = session.EndProfiling();
        }
        catch (OnnxRuntimeException e)
        {
            return new PlacementReport([], $"profiling could not be ended: {e.Message.Trim()}");
        }

        try
        {
            return new PlacementReport(Parse(File.ReadAllBytes(file)), note);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Whatever the file holds, the placement report is informational: it never fails a request or a load.
            return new PlacementReport([], $"the profile could not be read: {e.Message}");
        }
        finally
        {
            try
            {
                File.Delete(file);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // A leftover profile in the temporary folder does no harm.
            }
        }
    }

    /// <summary>The node events of an ORT profile (a JSON array of trace events), one entry per node in order of first run.</summary>
    public static NodePlacement[] Parse(ReadOnlySpan<byte> profile)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var nodes = new List<NodePlacement>();
        var reader = new Utf8JsonReader(profile);
        using var document = JsonDocument.ParseValue(ref reader);
        foreach (var trace in document.RootElement.EnumerateArray())
        {
            if (!trace.TryGetProperty("cat", out var category) || category.GetString() != "Node"
                || !trace.TryGetProperty("name", out var nameElement) || nameElement.GetString() is not { } name
                || !name.EndsWith(KernelSuffix, StringComparison.Ordinal)
                || !trace.TryGetProperty("args", out var args))
            {
                continue;
            }

            string node = name[..^KernelSuffix.Length];
            if (!seen.Add(node))
            {
                continue;
            }

            string opType = args.TryGetProperty("op_name", out var op) ? op.GetString() ?? "?" : "?";
            string provider = args.TryGetProperty("provider", out var p) ? p.GetString() ?? "?" : "?";
            nodes.Add(new NodePlacement(node, opType, provider));
        }

        return [.. nodes];
    }

    private static void WarmUp(InferenceSession session)
    {
        var names = new List<string>();
        var values = new List<OrtValue>();
        try
        {
            foreach (string name in session.InputNames)
            {
                var metadata = session.InputMetadata[name];
                if (!metadata.IsTensor || metadata.IsString)
                {
                    throw new NotSupportedException($"input '{name}' is not a numeric tensor");
                }

                long[] shape = Array.ConvertAll(metadata.Dimensions, d => d > 0 ? (long)d : 1L);
                var value = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, metadata.ElementDataType, shape);
                values.Add(value);
                names.Add(name);
                value.GetTensorMutableRawData().Clear();
            }

            using var runOptions = new RunOptions();
            using var outputs = session.Run(runOptions, names, values, session.OutputNames);
        }
        finally
        {
            foreach (var value in values)
            {
                value.Dispose();
            }
        }
    }

    /// <summary>Node counts per provider, for the one-line summary.</summary>
    public static IReadOnlyDictionary<string, int> CountByProvider(IEnumerable<NodePlacement> nodes) =>
        nodes.GroupBy(n => n.Provider, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
}
