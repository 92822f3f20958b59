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
        private const string Usage = """
            Usage: edgectl [--socket PATH] [--json] COMMAND

              status                         daemon version, board, platform, providers, health, warnings, sensors,
                                             triggers and the result store
              models                         loaded models
              load NAME PATH [--providers qnn,cpu] [--on-missing fallback|fail] [--kernels auto|force|off]
                                             load an .onnx model (relative PATH: the daemon's model directory);
                                             --providers/--on-missing/--kernels override the board profile for this model
                                             (--kernels: which nodes move onto our ai.edgeruntime kernels)
              unload NAME                    unload a model
              info NAME [--nodes]            inputs, outputs, providers, warnings, nodes per provider
                                             (--nodes: every node with the provider that runs it)
              stats                          per model: requests, errors, latency p50/p99
              infer NAME --input INPUT=FILE.npy [--input ...] [--output NAME ...] [--output-dir DIR] [--repeat N]
                         [--split INPUT] [--carry OUTPUT=INPUT] [--quiet]
                                             run a model; --split feeds INPUT one slice of its first axis per request,
                                             --carry feeds an output back as an input (recurrent state)
              watch [TRIGGER ...] [--since ID] [--count N] [--timeout SECONDS] [--output-dir DIR]
                                             print stored results as they arrive; --since ID first replays those after ID
                                             (0: all kept), so a script resumes where it stopped; --output-dir writes
                                             DIR/<id>/<output>.npy; --json prints one JSON object per line; a pipeline
                                             result prints its prediction, post-sensing latency and configuration
              inject SENSOR --edge rising|falling | --value CHANNEL=NUMBER [...]
                                             feed a simulated sensor (configured with "simulated": true)
              pipelines                      pipelines: kind, runs/failures, budget, last configuration, profiles,
                                             latency table
              pipeline-load FILE.json        declare a pipeline (a "pipelines" entry of the configuration; comments and
                                             trailing commas allowed; paths that exist from here are sent absolute)
              run PIPELINE [--input NAME=PATH ...] [--index N] [--mode M] [--skip|--no-skip] [--budget MS]
                           [--config SPEC] [--clock realtime|fast] [--timeline FILE.svg]
                                             run a pipeline once over replayed input (mmedge: audio=WAV,
                                             vision=.npy, .csv or a folder of .pgm frames; cbnet: image=.npy or .pgm)
                                             and print the prediction, post-sensing latency, configuration and the
                                             optimizer's decision, units, checkpoints, stages;
                                             SPEC fixes the configuration: audio=large:100,vision=small:/2
                                             (MODALITY=ENCODER:UNIT_MS or MODALITY=ENCODER:/STRIDE);
                                             --timeline draws the run as an SVG timeline
              timeline PIPELINE [--id N] [--out FILE.svg]
                                             draw a stored result of the pipeline (default: its latest) as an SVG
                                             timeline; writes FILE (default PIPELINE-ID.svg) and prints its path
              tensor OUT.npy --dtype DTYPE --shape D0,D1,... [--value V]
                                             write a .npy filled with one value (--shape "" for a scalar)
              wav2npy IN.wav OUT.npy [--rate HZ] [--frame N]
                                             turn a WAV file into a float32 [frames, N] .npy (mono, resampled)

            The socket defaults to $EDGED_SOCKET, $XDG_RUNTIME_DIR/edgeruntime/edged.sock, ./run/edged.sock, or the
            system service's /run/edgeruntime/edged.sock.
            """;

        public static async Task<int> RunAsync(string[] rawArgs)
        {
            try
            {
                var args = new Arguments(rawArgs);
                if (args.Positionals.Count == 0 || args.Has("--help") || args.Has("-h"))
                {
                    Console.WriteLine(Usage);
                    return args.Positionals.Count == 0 && !args.Has("--help") && !args.Has("-h") ? 2 : 0;
                }

                string command = args.Positionals[0];
                if (command == "wav2npy")
                {
                    return Wav2Npy(args);
                }

                if (command == "tensor")
                {
                    return TensorFile(args);
                }

                // Pipeline commands check their arguments before connecting: a typo is a usage error even with no daemon.
                if (PipelineCommands.Prepare(command, args) is { } pipelineCommand)
                {
                    await using var pipelineClient = await EdgeClient.ConnectAsync(args.Get("--socket")).ConfigureAwait(false);
                    return await pipelineCommand(pipelineClient).ConfigureAwait(false);
                }

                await using var client = await EdgeClient.ConnectAsync(args.Get("--socket")).ConfigureAwait(false);
                return command switch
                {
                    "status" => await StatusAsync(client, args).ConfigureAwait(false),
                    "models" => await ModelsAsync(client, args).ConfigureAwait(false),
                    "load" => await LoadAsync(client, args).ConfigureAwait(false),
                    "unload" => await UnloadAsync(client, args).ConfigureAwait(false),
                    "info" => await InfoAsync(client, args).ConfigureAwait(false),
                    "stats" => await StatsAsync(client, args).ConfigureAwait(false),
                    "infer" => await InferCommand.RunAsync(client, args).ConfigureAwait(false),
                    "watch" => await WatchCommand.RunAsync(client, args).ConfigureAwait(false),
                    "inject" => await WatchCommand.InjectAsync(client, args).ConfigureAwait(false),
                    _ => throw new UsageException($"Unknown command '{command}'."),
                };
            }
            catch (UsageException e)
            {
                Console.Error.WriteLine($"edgectl: {e.Message}");
                Console.Error.WriteLine("Run 'edgectl --help' for usage.");
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

        private static async Task<int> StatusAsync(EdgeClient client, Arguments args)
        {
            args.AllowOnly();
            var hello = await client.HelloAsync("edgectl").ConfigureAwait(false);
            var health = await client.HealthAsync().ConfigureAwait(false);
            if (args.Has("--json"))
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

        private static async Task<int> ModelsAsync(EdgeClient client, Arguments args)
        {
            args.AllowOnly();
            var models = await client.ModelsAsync().ConfigureAwait(false);
            if (args.Has("--json"))
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

        private static async Task<int> LoadAsync(EdgeClient client, Arguments args)
        {
            args.AllowOnly("--providers", "--on-missing", "--kernels", "--nodes");
            string name = args.Positional(1, "model name (edgectl load NAME PATH)");
            string path = LocalPaths.AbsoluteIfHere(args.Positional(2, "model path (edgectl load NAME PATH)"));

            string[]? providers = args.Get("--providers")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var info = await client.LoadAsync(new LoadRequest(name, path, providers, args.Get("--on-missing")) { KernelFallback = args.Get("--kernels") }).ConfigureAwait(false);
            PrintInfo(info, args);
            return 0;
        }

        private static async Task<int> UnloadAsync(EdgeClient client, Arguments args)
        {
            args.AllowOnly();
            var result = await client.UnloadAsync(args.Positional(1, "model name")).ConfigureAwait(false);
            Console.WriteLine($"unloaded {result.Name}");
            return 0;
        }

        private static async Task<int> InfoAsync(EdgeClient client, Arguments args)
        {
            args.AllowOnly("--nodes");
            PrintInfo(await client.InfoAsync(args.Positional(1, "model name")).ConfigureAwait(false), args);
            return 0;
        }

        private static void PrintInfo(ModelInfo info, Arguments args)
        {
            if (args.Has("--json"))
            {
                Console.WriteLine(JsonSerializer.Serialize(info, ProtocolJsonContext.Default.ModelInfo));
            }
            else
            {
                Printer.ModelInfo(info, args.Has("--nodes"));
            }
        }

        private static async Task<int> StatsAsync(EdgeClient client, Arguments args)
        {
            args.AllowOnly();
            var stats = await client.StatsAsync().ConfigureAwait(false);
            if (args.Has("--json"))
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

        private static int TensorFile(Arguments args)
        {
            args.AllowOnly("--dtype", "--shape", "--value");
            string output = args.Positional(1, "output .npy file");
            string dtypeName = args.Get("--dtype") ?? "float32";
            if (!TensorDTypes.TryParse(dtypeName, out var dtype))
            {
                throw new UsageException($"Unknown dtype '{dtypeName}'.");
            }

            string shapeText = args.Get("--shape") ?? throw new UsageException("--shape is required (\"\" for a scalar).");
            long[] shape = shapeText.Length == 0
                ? []
                : [.. shapeText.Split(',').Select(d => long.TryParse(d, out long v) && v >= 0 ? v : throw new UsageException($"Bad dimension '{d}' in --shape."))];
            double value = double.Parse(args.Get("--value") ?? "0", System.Globalization.CultureInfo.InvariantCulture);
            var tensor = TensorFill.Create("tensor", dtype, shape, value);
            NpyFile.Write(output, tensor);
            Console.WriteLine($"{output}: {dtype.Name()} {Printer.Shape(shape)} filled with {value}");
            return 0;
        }

        private static int Wav2Npy(Arguments args)
        {
            args.AllowOnly("--rate", "--frame");
            string input = args.Positional(1, "input WAV file");
            string output = args.Positional(2, "output .npy file");
            var audio = WavAudio.Read(input).Resample(args.GetInt("--rate", 16000));
            var frames = audio.ToFrames("audio", args.GetInt("--frame", 512));
            NpyFile.Write(output, frames);
            Console.WriteLine($"{input}: {audio.Seconds:0.00} s at {audio.SampleRate} Hz -> {output} float32 {Printer.Shape(frames.Shape)}");
            return 0;
        }
    }
}
