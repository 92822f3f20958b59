using System.CommandLine;
using System.Globalization;
using EdgeRuntime.Client;
using EdgeRuntime.Protocol;
using EdgeRuntime.Formats;

namespace EdgeRuntime.Cli;

/// <summary>
/// edgectl infer: tensors from .npy files in, outputs to .npy files out. With --split the named input is fed one slice
/// of its first axis per request (a stream of frames), and --carry OUT=IN feeds an output back as the next request's
/// input, which is how recurrent models such as Silero VAD keep their state.
/// </summary>
internal static class InferCommand
{
    public static Command Create(GlobalOptions global)
    {
        var model = new Argument<string>("NAME") { Description = "a loaded model" };
        var inputs = new Option<NamedValue[]>("--input")
        {
            Description = "an input and the .npy file holding it; once per input",
            HelpName = "INPUT=FILE.npy",
            Arity = ArgumentArity.OneOrMore,
            CustomParser = ValueParsers.Each(ValueParsers.Named(valueRequired: false), text => $"--input takes INPUT=FILE.npy, not '{text}'."),
        };
        var outputs = new Option<string[]>("--output")
        {
            Description = "ask for this output only; repeat for more (default: every output)",
            HelpName = "NAME",
            Arity = ArgumentArity.OneOrMore,
        };
        var outputDir = new Option<string?>("--output-dir") { Description = "write each output to DIR/<output>.npy (with --split: every step's, joined along axis 0)", HelpName = "DIR" };
        var repeat = FileCommands.PositiveInt("--repeat", "N", "send the request N times and print round-trip p50/p99/max", 1);
        var split = new Option<string?>("--split")
        {
            Description = "feed INPUT one slice of its first axis per request (a stream of frames)",
            HelpName = "INPUT",
        };
        var carries = new Option<NamedValue[]>("--carry")
        {
            Description = "feed an output back as the next request's input (recurrent state, e.g. stateN=state)",
            HelpName = "OUTPUT=INPUT",
            Arity = ArgumentArity.OneOrMore,
            CustomParser = ValueParsers.Each(ValueParsers.Named(valueRequired: false), text => $"--carry takes OUTPUT=INPUT, not '{text}'."),
        };
        var quiet = new Option<bool>("--quiet") { Description = "print only the outputs and the latency summary, not every request" };
        var sharedMemory = new Option<bool>("--shared-memory")
        {
            Description = $"pass the tensors in memory shared with edged (a sealed memfd) instead of through the socket; outputs up to {SharedOutputBytes / (1024 * 1024)} MiB; the daemon must allow it (sharedMemory.enabled)",
        };
        var command = new Command("infer", "Run a model on tensors from .npy files and print (or write) its outputs and the timing of each request.")
        {
            model, inputs, outputs, outputDir, repeat, split, carries, quiet, sharedMemory,
        };
        global.SetConnectedAction(command, parseResult =>
        {
            string name = parseResult.GetRequiredValue(model);
            var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            foreach (var (input, file) in parseResult.GetValue(inputs) ?? [])
            {
                tensors[input] = NpyFile.Read(file, input);
            }

            var options = new Options(
                parseResult.GetValue(outputs) is { Length: > 0 } named ? named : null,
                parseResult.GetValue(outputDir),
                parseResult.GetValue(repeat),
                parseResult.GetValue(split),
                [.. (parseResult.GetValue(carries) ?? []).Select(c => (c.Name, c.Value))],
                parseResult.GetValue(quiet),
                parseResult.GetValue(sharedMemory));
            return client => RunAsync(client, name, tensors, options);
        });
        return command;
    }

    /// <summary>Room for the outputs in a --shared-memory region; a memfd's pages cost nothing until written.</summary>
    private const int SharedOutputBytes = 4 * 1024 * 1024;

    private sealed record Options(string[]? Outputs, string? OutputDir, int Repeat, string? Split, (string Output, string Input)[] Carries, bool Quiet, bool SharedMemory);

    private static async Task<int> RunAsync(EdgeClient client, string model, Dictionary<string, Tensor> inputs, Options options)
    {
        var (outputs, outputDir, repeat, split, carries, quiet, sharedMemory) = options;
        using var region = sharedMemory ? await RegisterRegionAsync(client, inputs.Values).ConfigureAwait(false) : null;
        Task<InferResult> Infer(IReadOnlyList<Tensor> tensors) =>
            region is null ? client.InferAsync(model, tensors, outputs) : client.InferAsync(model, tensors, region, outputs);

        if (split is not null)
        {
            return await StreamAsync(Infer, inputs, split, carries, outputDir, quiet).ConfigureAwait(false);
        }

        var roundTrips = new List<double>(repeat);
        InferResult? last = null;
        for (int i = 0; i < repeat; i++)
        {
            last = await Infer([.. inputs.Values]).ConfigureAwait(false);
            roundTrips.Add(last.RoundTrip.TotalMicroseconds);
            if (!quiet && (repeat == 1 || i == 0 || i == repeat - 1))
            {
                Console.WriteLine($"request {i + 1}/{repeat}: {Printer.Timing(last)}");
            }
        }

        foreach (var output in last!.Outputs)
        {
            Console.WriteLine($"  {output.Name,-16} {output.DType.Name(),-8} {Printer.Shape(output.Shape),-14} {Printer.Values(output)}");
            if (outputDir is not null)
            {
                Directory.CreateDirectory(outputDir);
                NpyFile.Write(Path.Combine(outputDir, output.Name + ".npy"), output);
            }
        }

        if (repeat > 1)
        {
            PrintSummary(roundTrips);
        }

        return 0;
    }

    /// <summary>One region for the whole run: every input (a --split stream whole, so each slice fits) and the outputs.</summary>
    private static Task<SharedMemoryRegion> RegisterRegionAsync(EdgeClient client, IEnumerable<Tensor> inputs)
    {
        long inputBytes = inputs.Sum(t => TensorLayout.AlignUp(t.Data.Length));
        return client.RegisterRegionAsync("edgectl", checked((int)(inputBytes + SharedOutputBytes)));
    }

    private static async Task<int> StreamAsync(Func<IReadOnlyList<Tensor>, Task<InferResult>> infer, Dictionary<string, Tensor> inputs, string split, (string Output, string Input)[] carries, string? outputDir, bool quiet)
    {
        if (!inputs.TryGetValue(split, out var stream) || stream.Shape.Length == 0)
        {
            throw new UsageException($"--split {split}: give that input with --input {split}=FILE.npy, with at least one axis.");
        }

        long steps = stream.Shape[0];
        long[] sliceShape = [1, .. stream.Shape[1..]];
        int sliceBytes = (int)(stream.Data.Length / Math.Max(steps, 1));
        var carried = new HashSet<string>(carries.Select(c => c.Output), StringComparer.Ordinal);
        var collected = new Dictionary<string, List<Tensor>>(StringComparer.Ordinal);
        var roundTrips = new List<double>((int)steps);

        for (int step = 0; step < steps; step++)
        {
            inputs[split] = stream with { Shape = sliceShape, Data = stream.Data.Slice(step * sliceBytes, sliceBytes) };
            var result = await infer([.. inputs.Values]).ConfigureAwait(false);
            roundTrips.Add(result.RoundTrip.TotalMicroseconds);
            foreach (var (output, input) in carries)
            {
                inputs[input] = result[output] with { Name = input };
            }

            var shown = result.Outputs.Where(o => !carried.Contains(o.Name)).ToArray();
            foreach (var output in shown)
            {
                (collected.TryGetValue(output.Name, out var list) ? list : collected[output.Name] = []).Add(output);
            }

            if (!quiet)
            {
                string values = string.Join("  ", shown.Select(o => $"{o.Name}={Printer.Values(o, 4)}"));
                Console.WriteLine($"step {step,4}  {values}  {Printer.Timing(result)}");
            }
        }

        if (outputDir is not null)
        {
            Directory.CreateDirectory(outputDir);
            foreach (var (name, parts) in collected)
            {
                NpyFile.Write(Path.Combine(outputDir, name + ".npy"), Concatenate(name, parts));
            }
        }

        PrintSummary(roundTrips);
        return 0;
    }

    /// <summary>Joins per-step outputs along axis 0.</summary>
    private static Tensor Concatenate(string name, List<Tensor> parts)
    {
        var first = parts[0];
        long rows = parts.Sum(p => p.Shape.Length == 0 ? 1 : p.Shape[0]);
        long[] shape = first.Shape.Length == 0 ? [rows] : [rows, .. first.Shape[1..]];
        var data = new byte[parts.Sum(p => p.Data.Length)];
        int offset = 0;
        foreach (var part in parts)
        {
            part.Data.Span.CopyTo(data.AsSpan(offset));
            offset += part.Data.Length;
        }

        return new Tensor(name, first.DType, shape, data);
    }

    private static void PrintSummary(List<double> roundTrips)
    {
        var sorted = roundTrips.Order().ToArray();
        double P(double q) => sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{sorted.Length} requests: round trip p50 {Printer.Us(P(0.5))}, p99 {Printer.Us(P(0.99))}, max {Printer.Us(sorted[^1])}"));
    }
}
