using System.CommandLine;
using System.Text.Json;
using EdgeRuntime.Cli;
using EdgeRuntime.Client;
using EdgeRuntime.Protocol;
using EdgeRuntime.Formats;

return await EdgeCtl.RunAsync(args).ConfigureAwait(false);

namespace EdgeRuntime.Cli
{
    /// <summary>edgectl: talk to edged from a shell. Exit 0 on success, 1 with the daemon's message on failure, 2 on usage errors.</summary>
    internal static class EdgeCtl
    {
        /// <summary>Parses with <see cref="EdgectlCommandLine"/>; usage errors exit 2 before anything connects.</summary>
        public static async Task<int> RunAsync(string[] rawArgs)
        {
            var parseResult = EdgectlCommandLine.Parse(rawArgs);
            try
            {
                // --help and --version run even when the rest of the line is incomplete.
                if (parseResult.Action is not { ClearsParseErrors: true } && EdgectlCommandLine.UsageErrors(parseResult) is { Count: > 0 } errors)
                {
                    foreach (string error in errors)
                    {
                        Console.Error.WriteLine($"edgectl: {error}");
                    }

                    Console.Error.WriteLine($"Run '{EdgectlCommandLine.CommandPath(parseResult)} --help' for usage.");
                    return 2;
                }

                // Our own exception mapping below, and watch handles Ctrl-C itself.
                var invocation = new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null };
                return await parseResult.InvokeAsync(invocation).ConfigureAwait(false);
            }
            catch (UsageException e)
            {
                Console.Error.WriteLine($"edgectl: {e.Message}");
                Console.Error.WriteLine($"Run '{EdgectlCommandLine.CommandPath(parseResult)} --help' for usage.");
                return 2;
            }
            catch (EdgeRuntimeException e)
            {
                Console.Error.WriteLine($"edgectl: {e.Code}: {e.Message}");
                return 1;
            }
            catch (InvalidDataException e)
            {
                Console.Error.WriteLine($"edgectl: {e.Message}");
                return 1;
            }
            catch (IOException e)
            {
                Console.Error.WriteLine($"edgectl: {e.Message}");
                return 1;
            }
        }

        internal static async Task<int> StatusAsync(EdgeClient client, bool json)
        {
            var hello = await client.HelloAsync("edgectl").ConfigureAwait(false);
            var health = await client.HealthAsync().ConfigureAwait(false);
            if (json)
            {
                // One JSON object, so scripts can pipe it to jq: {"hello": {...}, "health": {...}}.
                Console.WriteLine($"{{\"hello\":{JsonSerializer.Serialize(hello, ProtocolJsonContext.Default.HelloResponse)},\"health\":{JsonSerializer.Serialize(health, ProtocolJsonContext.Default.HealthResponse)}}}");
                return 0;
            }

            Console.WriteLine($"edged {hello.DaemonVersion}, protocol {hello.ProtocolVersion}, board {hello.Board}");
            Console.WriteLine($"platform     {hello.Platform}");
            Console.WriteLine($"providers    {string.Join(", ", hello.Providers)}");
            Console.WriteLine($"health       {health.Status}, up {health.UptimeSeconds:0.0} s, {health.Models} models, {health.Connections} connections, {health.InFlight} in flight, queue {health.QueueDepth}");
            foreach (string problem in health.Problems)
            {
                Console.WriteLine($"  problem    {problem}");
            }

            foreach (string warning in health.Warnings)
            {
                Console.WriteLine($"  warning    {warning}");
            }

            Printer.Headless(health);
            Console.WriteLine($"you          uid {hello.Peer.Uid}, gid {hello.Peer.Gid}, pid {hello.Peer.Pid}");
            return 0;
        }

        internal static async Task<int> ModelsAsync(EdgeClient client, bool json)
        {
            var models = await client.ModelsAsync().ConfigureAwait(false);
            if (json)
            {
                Console.WriteLine(JsonSerializer.Serialize(new ModelsResponse(models), ProtocolJsonContext.Default.ModelsResponse));
                return 0;
            }

            if (models.Length == 0)
            {
                Console.WriteLine("no models loaded");
            }

            foreach (var model in models)
            {
                Console.WriteLine($"{model.Name,-20} {string.Join(",", model.Providers),-22} {model.Path}");
            }

            return 0;
        }

        internal static async Task<int> LoadAsync(EdgeClient client, LoadRequest request, bool json, bool nodes)
        {
            var info = await client.LoadAsync(request).ConfigureAwait(false);
            PrintInfo(info, json, nodes);
            return 0;
        }

        internal static async Task<int> UnloadAsync(EdgeClient client, string model)
        {
            var result = await client.UnloadAsync(model).ConfigureAwait(false);
            Console.WriteLine($"unloaded {result.Name}");
            return 0;
        }

        internal static async Task<int> InfoAsync(EdgeClient client, string model, bool json, bool nodes)
        {
            PrintInfo(await client.InfoAsync(model).ConfigureAwait(false), json, nodes);
            return 0;
        }

        private static void PrintInfo(ModelInfo info, bool json, bool nodes)
        {
            if (json)
            {
                Console.WriteLine(JsonSerializer.Serialize(info, ProtocolJsonContext.Default.ModelInfo));
            }
            else
            {
                Printer.ModelInfo(info, nodes);
            }
        }

        internal static async Task<int> StatsAsync(EdgeClient client, bool json)
        {
            var stats = await client.StatsAsync().ConfigureAwait(false);
            if (json)
            {
                Console.WriteLine(JsonSerializer.Serialize(new StatsResponse(stats), ProtocolJsonContext.Default.StatsResponse));
                return 0;
            }

            Console.WriteLine($"{"model",-20} {"requests",10} {"errors",8} {"mean",10} {"p50",10} {"p99",10}");
            foreach (var s in stats)
            {
                Console.WriteLine($"{s.Name,-20} {s.Count,10} {s.Errors,8} {Printer.Us(s.MeanUs),10} {Printer.Us(s.P50Us),10} {Printer.Us(s.P99Us),10}");
            }

            return 0;
        }

        internal static int TensorFile(string output, TensorDType dtype, long[] shape, double value)
        {
            var tensor = TensorFill.Create("tensor", dtype, shape, value);
            NpyFile.Write(output, tensor);
            Console.WriteLine($"{output}: {dtype.Name()} {Printer.Shape(shape)} filled with {value}");
            return 0;
        }

        internal static int Wav2Npy(string input, string output, int rate, int frame)
        {
            var audio = WavAudio.Read(input).Resample(rate);
            var frames = audio.ToFrames("audio", frame);
            NpyFile.Write(output, frames);
            Console.WriteLine($"{input}: {audio.Seconds:0.00} s at {audio.SampleRate} Hz -> {output} float32 {Printer.Shape(frames.Shape)}");
            return 0;
        }
    }
}
