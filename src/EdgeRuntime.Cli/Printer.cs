using System.Globalization;
using System.Text;
using EdgeRuntime.Client;
using EdgeRuntime.Protocol;
using EdgeRuntime.Formats;

namespace EdgeRuntime.Cli;

/// <summary>Formats daemon answers for people.</summary>
internal static class Printer
{
    public static string Us(double microseconds) => microseconds >= 10_000
        ? (microseconds / 1000).ToString("0.0", CultureInfo.InvariantCulture) + " ms"
        : microseconds.ToString("0", CultureInfo.InvariantCulture) + " µs";

    public static string Shape(long[] shape) => "[" + string.Join(",", shape) + "]";

    public static string Spec(TensorSpec spec)
    {
        var dims = new string[spec.Shape.Length];
        for (int i = 0; i < dims.Length; i++)
        {
            string symbol = i < spec.SymbolicShape.Length ? spec.SymbolicShape[i] : string.Empty;
            dims[i] = spec.Shape[i] >= 0 ? spec.Shape[i].ToString(CultureInfo.InvariantCulture) : (symbol.Length > 0 ? symbol : "?");
        }

        return $"{spec.Name,-16} {spec.Dtype,-8} [{string.Join(",", dims)}]";
    }

    public static void ModelInfo(ModelInfo info, bool everyNode)
    {
        Console.WriteLine($"model      {info.Name}");
        Console.WriteLine($"path       {info.Path} ({info.SizeBytes:N0} bytes)");
        Console.WriteLine($"providers  {string.Join(", ", info.Providers)}");
        Console.WriteLine($"loaded     {info.LoadedAt:u} in {info.LoadMs:0.0} ms");
        if (info.MaxBatch is { } maxBatch)
        {
            Console.WriteLine($"batching   up to {maxBatch} requests a run (those that arrive while it is busy)");
        }

        if (info.Kind == ModelKinds.Language)
        {
            // A language model answers generate, not infer: say so before its (internal) tensor signature.
            Console.WriteLine($"kind       language model{(info.Family is null ? "" : $" ({info.Family})")}, context {info.ContextLength?.ToString(CultureInfo.InvariantCulture) ?? "?"} tokens: edgectl generate / chat");
            if (info.SessionStateBytes is { } state)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"state      {state / 1024.0:N0} KiB a session at full context ({info.Layers ?? "?"} layers)"));
            }

            if (info.Attention is { } attention)
            {
                Console.WriteLine($"attention  {attention}");
            }

            if (info.StaticShapes is { } shapes)
            {
                Console.WriteLine($"graphs     static shapes (NPU export): {shapes}");
            }

            if (info.Image is { } image)
            {
                Console.WriteLine($"image      {image.Height}×{image.Width}, {image.Channels} channel{(image.Channels == 1 ? "" : "s")} (generate --image) → {image.Tokens} positions before the prompt; {image.Encoder} encoder");
            }
        }

        foreach (string warning in info.Warnings)
        {
            Console.WriteLine($"warning    {warning}");
        }

        if (info.Kind == ModelKinds.Language && info.Nodes.Length == 0 && info.Inputs.Length == 0 && info.Outputs.Length == 0)
        {
            // Its graph is internal to the engine: what the daemon says about the model is all there is to show.
            Console.WriteLine($"serving    {info.PlacementNote}");
            return;
        }

        var perProvider = info.Nodes.GroupBy(n => n.Provider, StringComparer.Ordinal).Select(g => $"{g.Key} {g.Count()}");
        Console.WriteLine($"nodes      {(info.Nodes.Length == 0 ? "none reported" : string.Join(", ", perProvider))}{(info.PlacementNote is null ? string.Empty : $" ({info.PlacementNote})")}");
        if (everyNode)
        {
            foreach (var node in info.Nodes)
            {
                Console.WriteLine($"  {node.Node,-40} {node.OpType,-20} {node.Provider}");
            }
        }

        foreach (var group in info.Rewrites.GroupBy(r => (r.OpType, r.FromDomain, r.Reason)))
        {
            string from = group.Key.FromDomain.Length == 0 ? group.Key.OpType : $"{group.Key.FromDomain}.{group.Key.OpType}";
            Console.WriteLine($"rewritten  {group.Count()} x {from} -> ai.edgeruntime.{group.Key.OpType} ({group.Key.Reason}): {string.Join(", ", group.Select(r => r.Node))}");
        }

        Console.WriteLine("inputs");
        foreach (var input in info.Inputs)
        {
            Console.WriteLine("  " + Spec(input));
        }

        Console.WriteLine("outputs");
        foreach (var output in info.Outputs)
        {
            Console.WriteLine("  " + Spec(output));
        }
    }

    /// <summary>Up to <paramref name="limit"/> values of a tensor, as text.</summary>
    public static string Values(Tensor tensor, int limit = 8)
    {
        var text = new StringBuilder("[");
        long count = Math.Min(tensor.ElementCount, limit);
        var span = tensor.Data.Span;
        int size = tensor.DType.ElementSize();
        for (int i = 0; i < count; i++)
        {
            if (i > 0)
            {
                text.Append(", ");
            }

            var element = span.Slice(i * size, size);
            text.Append(tensor.DType switch
            {
                TensorDType.Float32 => BitConverter.ToSingle(element).ToString("0.####", CultureInfo.InvariantCulture),
                TensorDType.Float64 => BitConverter.ToDouble(element).ToString("0.####", CultureInfo.InvariantCulture),
                TensorDType.Float16 => ((float)BitConverter.ToHalf(element)).ToString("0.####", CultureInfo.InvariantCulture),
                TensorDType.Int8 => ((sbyte)element[0]).ToString(CultureInfo.InvariantCulture),
                TensorDType.UInt8 => element[0].ToString(CultureInfo.InvariantCulture),
                TensorDType.Bool => element[0] != 0 ? "true" : "false",
                TensorDType.Int16 => BitConverter.ToInt16(element).ToString(CultureInfo.InvariantCulture),
                TensorDType.UInt16 => BitConverter.ToUInt16(element).ToString(CultureInfo.InvariantCulture),
                TensorDType.Int32 => BitConverter.ToInt32(element).ToString(CultureInfo.InvariantCulture),
                TensorDType.UInt32 => BitConverter.ToUInt32(element).ToString(CultureInfo.InvariantCulture),
                TensorDType.Int64 => BitConverter.ToInt64(element).ToString(CultureInfo.InvariantCulture),
                _ => BitConverter.ToUInt64(element).ToString(CultureInfo.InvariantCulture),
            });
        }

        if (tensor.ElementCount > limit)
        {
            text.Append(", …");
        }

        return text.Append(']').ToString();
    }

    public static string Timing(InferResult result) =>
        $"round trip {Us(result.RoundTrip.TotalMicroseconds)} (daemon: queued {Us(result.Timing.QueuedUs)}, inference {Us(result.Timing.InferenceUs)}, total {Us(result.Timing.TotalUs)})";

    /// <summary>Sensors (state, last reading, counts), triggers (firings and outcomes) and the store, for edgectl status.</summary>
    public static void Headless(HealthResponse health)
    {
        foreach (var sensor in health.Sensors)
        {
            string last = sensor.LastReading.Length == 0
                ? "no reading yet"
                : string.Join(" ", sensor.LastReading.Select(v => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{v.Channel}={v.Value:0.###}")))
                  + (sensor.LastReadingAt is { } at ? $" at {at.ToLocalTime():HH:mm:ss}" : "");
            // Live pipeline runs holding it, and how long an on-demand camera has been paused, when there is anything to say.
            string live = (sensor.Readers > 0 ? $", {sensor.Readers} live readers" : "")
                + (sensor.PausedSeconds is { } paused ? string.Create(CultureInfo.InvariantCulture, $", paused {paused:0.#} s in all") : "");
            Console.WriteLine($"sensor       {sensor.Name} ({sensor.Type}) {sensor.State}: {last}; {sensor.Readings} readings, {sensor.Failures} failures{live}");
            if (sensor.Message is not null)
            {
                Console.WriteLine($"               {sensor.Message}");
            }
        }

        foreach (var trigger in health.Triggers)
        {
            Console.WriteLine($"trigger      {trigger.Name} on {trigger.When}: fired {trigger.Fired}, held off {trigger.HeldOff}, completed {trigger.Completed}, failed {trigger.Failed}, dropped {trigger.Dropped}"
                + (trigger.LastFiredAt is { } at ? $", last {at.ToLocalTime():HH:mm:ss}" : ""));
        }

        if (health.Store is { } store)
        {
            Console.WriteLine($"store        {store.Path}: ids {store.FirstId}..{store.LastId}, {store.Bytes / 1024.0:0.#} KiB in {store.Segments} segments, {store.Commits} commits since start");
        }
    }
}
