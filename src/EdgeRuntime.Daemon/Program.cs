using System.Runtime.InteropServices;
using EdgeRuntime.Boards;
using EdgeRuntime.Daemon;
using EdgeRuntime.Inference;
using EdgeRuntime.Kernels;
using EdgeRuntime.Protocol;
using EdgeRuntime.Server;
using EdgeRuntime.Store;
using Microsoft.ML.OnnxRuntime;

return await EdgeDaemon.RunAsync(args).ConfigureAwait(false);

namespace EdgeRuntime.Daemon
{
    /// <summary>edged's life: read configuration, load models, listen, and stop cleanly on SIGTERM or SIGINT.</summary>
    internal static class EdgeDaemon
    {
        public static string Version => typeof(EdgeDaemon).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

        public static async Task<int> RunAsync(string[] args)
        {
            CommandLine commandLine;
            DaemonConfig config;
            BoardProfile board;
            string boardSource;
            try
            {
                commandLine = CommandLine.Parse(args);
                if (commandLine.ShowHelp || commandLine.ShowVersion)
                {
                    Console.WriteLine(commandLine.ShowHelp ? CommandLine.Usage : $"edged {Version}");
                    return 0;
                }

                if (commandLine.CheckKernels)
                {
                    return KernelCheck.Run();
                }

                config = ConfigLoader.Load(ConfigLoader.Locate(commandLine.ConfigPath));
                if (commandLine.ModelDirectory is not null)
                {
                    config = config with { ModelDirectory = Path.GetFullPath(commandLine.ModelDirectory) };
                }

                if (commandLine.SocketPath is not null)
                {
                    config = config with { SocketPath = Path.GetFullPath(commandLine.SocketPath) };
                }

                (board, boardSource) = BoardSelection.Load(config);
                ApplyKernelLimits(board, boardSource);
            }
            catch (ConfigException e)
            {
                Console.Error.WriteLine($"edged: {e.Message}");
                Console.Error.WriteLine(CommandLine.Usage);
                return 2;
            }
            catch (BoardProfileException e)
            {
                Console.Error.WriteLine($"edged: {e.Message}");
                return 2;
            }

            var log = new StderrLog(commandLine.Verbose ? EdgeRuntime.Server.LogLevel.Debug : EdgeRuntime.Server.LogLevel.Info);
            return await ServeAsync(config, board, boardSource, log).ConfigureAwait(false);
        }

        // Before any session exists, so every kernel call of this process sees the same choice.
        private static void ApplyKernelLimits(BoardProfile board, string boardSource)
        {
            try
            {
                KernelPaths.Apply(KernelPaths.Choose(board.Kernels.ToLimits()));
            }
            catch (ArgumentException e)
            {
                throw new BoardProfileException($"{boardSource}: {e.Message}");
            }
        }

        private static async Task<int> ServeAsync(DaemonConfig config, BoardProfile board, string boardSource, StderrLog log)
        {
            string socketPath = config.SocketPath ?? DefaultSocketPath.Resolve(board.SocketPath);
            var inferenceOptions = new InferenceOptions
            {
                IntraOpThreads = config.Threads.IntraOp ?? board.Threads.IntraOp,
                InterOpThreads = config.Threads.InterOp ?? board.Threads.InterOp,
                Workers = config.Threads.Workers ?? board.Threads.Workers,
                QueueCapacity = config.Limits.QueueCapacity,
                AllowedModelRoots = config.AllowedModelRoots,
                Providers = board.ToProviderChoice(),
                MemoryBudgetBytes = board.Memory.BudgetMiB * 1024L * 1024,
            };
            string platform = PlatformDescription.Current();
            var serverOptions = new ServerOptions
            {
                SocketPath = socketPath,
                MaxFrameBytes = config.Limits.MaxFrameBytes,
                MaxInFlightPerConnection = config.Limits.MaxInFlightPerConnection,
                MaxConnections = config.Limits.MaxConnections,
                MaxConnectionsPerUid = config.Limits.MaxConnectionsPerUid,
                FrameTimeout = TimeSpan.FromSeconds(config.Limits.FrameTimeoutSeconds),
                IdleTimeout = TimeSpan.FromSeconds(config.Limits.IdleTimeoutSeconds),
                MaxPendingBytes = config.Limits.MaxPendingBytes,
                SendTimeout = TimeSpan.FromSeconds(config.Limits.SendTimeoutSeconds),
                AllowedUids = config.AllowedUids,
                AllowedGids = config.AllowedGids,
                ShutdownTimeout = TimeSpan.FromSeconds(config.Limits.ShutdownTimeoutSeconds),
                ReceiveSpin = TimeSpan.FromMicroseconds(config.Threads.ReceiveSpinMicroseconds),
                SharedMemoryEnabled = config.SharedMemory.Enabled,
                MaxRegionBytes = (long)(config.SharedMemory.MaxRegionMiB * 1024 * 1024),
                MaxRegionsPerConnection = config.SharedMemory.MaxRegionsPerConnection,
                DaemonVersion = Version,
                Board = board.Name,
                Platform = platform,
            };

            log.Write(EdgeRuntime.Server.LogLevel.Notice, "edged", $"edged {Version} pid {Environment.ProcessId}, board {board.Name} (profile {boardSource}), {platform}, model dir {config.ModelDirectory}");
            string[] providers = OrtEnv.Instance().GetAvailableProviders();
            log.Write(EdgeRuntime.Server.LogLevel.Info, "edged", $"ONNX Runtime {OrtEnv.Instance().GetVersionString()}, providers in this build: {string.Join(", ", providers)}; board order: {inferenceOptions.Providers.Describe()} (onMissingProvider {board.OnMissingProvider})");

            // Inference runs on thread-pool threads and blocks them while ORT works; keep enough threads ready that
            // socket I/O never waits for the pool to grow.
            ThreadPool.GetMinThreads(out int minWorkers, out int minIo);
            ThreadPool.SetMinThreads(Math.Max(minWorkers, inferenceOptions.EffectiveWorkers + (2 * Environment.ProcessorCount)), minIo);

            using var registry = new ModelRegistry(config.ModelDirectory, inferenceOptions);
            using var queue = new InferenceScheduler(inferenceOptions);
            var metrics = new ServerMetrics();
            using var generation = new DaemonGeneration(registry.Paths, DaemonGeneration.Options(config.Generation, inferenceOptions.MemoryBudgetBytes));
            await PreloadAsync(config, registry, generation, metrics, log).ConfigureAwait(false);

            // Parts are built in dependency order, each from what exists already: the store (pipelines and triggers
            // write to it), the pipelines (triggers may run one), then the sensors and triggers.
            ResultJournal? journal;
            try
            {
                journal = HeadlessRuntime.OpenStore(config, message => log.Write(EdgeRuntime.Server.LogLevel.Info, "store", message), TimeProvider.System);
            }
            catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
            {
                log.Write(EdgeRuntime.Server.LogLevel.Error, "edged", $"cannot open the result store: {e.Message}");
                return 1;
            }

            using var journalScope = journal;

            // The sensors are built (not started) before the pipelines, whose live inputs are checked against them.
            SensorSetup sensorSetup;
            try
            {
                sensorSetup = HeadlessRuntime.CreateSensors(config, board.Gpio, message => log.Write(EdgeRuntime.Server.LogLevel.Info, "sensors", message), TimeProvider.System);
            }
            catch (ArgumentException e)
            {
                log.Write(EdgeRuntime.Server.LogLevel.Error, "edged", $"configuration: {e.Message}");
                return 2;
            }

            // Pipelines load (and profile their models) before the socket opens, so the first run is already planned.
            // Replay inputs a client names resolve against the working directory (the model directory when that is /,
            // as under systemd) and must stay under it, the model roots or allowedInputRoots; the files the
            // configuration's own pipelines name are allowed as they are.
            string inputDirectory = Environment.CurrentDirectory == "/" ? config.ModelDirectory : Environment.CurrentDirectory;
            string[] inputRoots = [.. config.AllowedInputRoots, .. config.Pipelines.SelectMany(p => p.Inputs.Values).Select(i => i.Path).OfType<string>()];
            await using var pipelineHost = new EdgeRuntime.Pipelines.PipelineHost(
                new EdgeRuntime.Pipelines.ModelInvoker(registry, queue),
                inputDirectory,
                journal,
                message => log.Write(EdgeRuntime.Server.LogLevel.Info, "pipelines", message),
                config.Sensors.Length == 0 ? null : new EdgeRuntime.Pipelines.Live.LiveSensors(sensorSetup.Sensors),
                inputRoots);
            var pipelines = new DaemonPipelines(pipelineHost);
            try
            {
                await pipelines.LoadConfiguredAsync(config.Pipelines, CancellationToken.None).ConfigureAwait(false);
            }
            catch (EdgeRuntimeException e)
            {
                sensorSetup.Chips.Dispose();
                log.Write(EdgeRuntime.Server.LogLevel.Error, "edged", $"configuration: {e.Message}");
                return 2;
            }

            HeadlessRuntime headless;
            try
            {
                // From here the headless runtime owns the sensors and their chips, also when this throws.
                headless = HeadlessRuntime.Create(
                    config,
                    sensorSetup,
                    new EdgeRuntime.Triggers.WindowModelRunner(registry, queue),
                    inferenceOptions.EffectiveWorkers,
                    journal,
                    message => log.Write(EdgeRuntime.Server.LogLevel.Info, "sensors", message),
                    TimeProvider.System,
                    // A trigger's live run starts at the firing (less its preMs), on the sensors' clock.
                    (firing, token) => pipelineHost.RunAsync(new PipelineRunRequest(firing.Pipeline) { PreMs = firing.PreMs > 0 ? firing.PreMs : null }, token, firing.Cause, firing.Timestamp),
                    // Caption triggers see the language models only through IFrameCaptioner, here over the daemon's
                    // generation services: the same generate path a socket client takes.
                    captioner: new GenerationCaptioner(generation));
            }
            catch (ArgumentException e)
            {
                log.Write(EdgeRuntime.Server.LogLevel.Error, "edged", $"configuration: {e.Message}");
                return 2;
            }

            await using var headlessScope = headless;
            var unknown = headless.PipelineTriggers.FirstOrDefault(t => !pipelineHost.TryGet(t.Pipeline, out _));
            if (unknown.Trigger is not null)
            {
                log.Write(EdgeRuntime.Server.LogLevel.Error, "edged", $"configuration: trigger '{unknown.Trigger}' runs pipeline '{unknown.Pipeline}', which is not in \"pipelines\".");
                return 2;
            }

            foreach (var (trigger, pipeline, preMs) in headless.PipelineTriggerWindows)
            {
                if (pipelineHost.TriggerWindowProblem(pipeline, preMs) is { } problem)
                {
                    log.Write(EdgeRuntime.Server.LogLevel.Error, "edged", $"configuration: trigger '{trigger}': {problem}.");
                    return 2;
                }
            }

            // Sensors first: once the socket answers, every sensor is live (or has said why not), so a client's first
            // press or injected value is not lost to a source still opening.
            string[] starting = await headless.StartAsync().ConfigureAwait(false);
            pipelineHost.StartContinuous();
            if (starting.Length > 0)
            {
                log.Write(EdgeRuntime.Server.LogLevel.Warning, "edged", $"sensors still starting after 5 s: {string.Join(", ", starting)}; serving anyway");
            }

            if (!headless.IsEmpty)
            {
                log.Write(EdgeRuntime.Server.LogLevel.Info, "edged", $"headless: {config.Sensors.Length} sensors, {config.Triggers.Length} triggers, store {(headless.Journal is { } j ? $"{j.Directory} (ids {j.FirstId}..{j.LastId})" : "none")}");
            }

            var handler = new RequestHandler(registry, queue, serverOptions, metrics, providers, headless.IsEmpty ? null : headless, pipelines, generation);
            await using var server = new UnixSocketServer(serverOptions, handler, metrics, log);
            try
            {
                server.Start();
            }
            catch (Exception e) when (e is InvalidOperationException or System.Net.Sockets.SocketException or IOException or UnauthorizedAccessException)
            {
                log.Write(EdgeRuntime.Server.LogLevel.Error, "edged", $"cannot listen on {socketPath}: {e.Message}");
                return 1;
            }

            // The OpenAI-compatible endpoint (off unless configured) opens after the main socket, so a second edged
            // started by mistake stops at the main socket before it touches this one.
            string? httpPath = config.Http?.SocketPath is { } configuredHttpPath ? Path.GetFullPath(configuredHttpPath) : null;
            if (httpPath == Path.GetFullPath(socketPath))
            {
                log.Write(EdgeRuntime.Server.LogLevel.Error, "edged", $"configuration: http.socketPath is the main socket's path ({socketPath}); give the HTTP endpoint a socket of its own.");
                return 2;
            }

            await using var http = httpPath is null ? null : new EdgeRuntime.Http.OpenAiHttpServer(HttpOptions(httpPath, serverOptions), generation, log);
            try
            {
                await (http?.StartAsync() ?? Task.CompletedTask).ConfigureAwait(false);
            }
            catch (Exception e) when (e is InvalidOperationException or System.Net.Sockets.SocketException or IOException or UnauthorizedAccessException)
            {
                log.Write(EdgeRuntime.Server.LogLevel.Error, "edged", $"cannot listen on {httpPath} (http): {e.Message}");
                return 1;
            }

            var stop = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.TrySetResult("SIGTERM"); });
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.TrySetResult("SIGINT"); });
            SystemdNotifier.Notify("READY=1\nSTATUS=serving");
            // Stuck means requests running and none started or finished for four watchdog timeouts: long enough for
            // a slow but legitimate inference (an LLM prefill on a Pi), short enough to recover a wedged driver.
            await using var watchdog = SystemdWatchdog.StartIfRequested(
                timeout => !queue.IsStalled(4 * timeout),
                message => log.Write(EdgeRuntime.Server.LogLevel.Warning, "edged", message),
                TimeProvider.System);
            if (watchdog is not null)
            {
                log.Write(EdgeRuntime.Server.LogLevel.Info, "edged", $"systemd watchdog: pinging every {watchdog.Interval.TotalSeconds:0.#} s");
            }

            await using var trimmer = IdleMemoryTrimmer.Start(TimeSpan.FromSeconds(config.Limits.TrimMemoryWhenIdleSeconds), log, TimeProvider.System);
            string reason = await stop.Task.ConfigureAwait(false);
            log.Write(EdgeRuntime.Server.LogLevel.Notice, "edged", $"{reason}: stopping; finishing in-flight requests (up to {serverOptions.ShutdownTimeout.TotalSeconds:0.#} s)");
            SystemdNotifier.Notify("STOPPING=1");
            // Continuous pipeline runs and triggered runs in progress finish and are stored (up to 5 s each) before the
            // sensors they read stop and the socket closes; a subscriber that is behind when it closes resumes later
            // with since.
            await pipelineHost.DisposeAsync().ConfigureAwait(false);
            await headless.DisposeAsync().ConfigureAwait(false);
            await Task.WhenAll(server.StopAsync(), http?.StopAsync() ?? Task.CompletedTask).ConfigureAwait(false);
            log.Write(EdgeRuntime.Server.LogLevel.Notice, "edged", "stopped cleanly");
            return 0;
        }

        /// <summary>The HTTP endpoint takes the main socket's access rules, connection limit, largest request and shutdown timeout.</summary>
        private static EdgeRuntime.Http.HttpServerOptions HttpOptions(string socketPath, ServerOptions main) => new()
        {
            SocketPath = socketPath,
            AllowedUids = main.AllowedUids,
            AllowedGids = main.AllowedGids,
            MaxConnections = main.MaxConnections,
            MaxRequestBodyBytes = main.MaxFrameBytes,
            ShutdownTimeout = main.ShutdownTimeout,
        };

        /// <summary>A model that fails to preload, for whatever reason, is logged and reported by health; the daemon serves the rest.</summary>
        private static async Task PreloadAsync(DaemonConfig config, ModelRegistry registry, DaemonGeneration generation, ServerMetrics metrics, StderrLog log)
        {
            foreach (var model in config.Models)
            {
                try
                {
                    if (generation.IsLanguageModel(model.Path))
                    {
                        var info = await generation.LoadAsync(new LoadRequest(model.Name, model.Path), default).ConfigureAwait(false);
                        log.Write(EdgeRuntime.Server.LogLevel.Info, "models", $"loaded language model {model.Name} from {info.Path} in {info.LoadMs:0.0} ms: {info.PlacementNote}");
                        continue;
                    }

                    var loaded = await registry.LoadAsync(model.Name, model.Path, model.Providers, model.OnMissingProvider, default, model.KernelFallback, Inference.Batching.BatchingOptions.From(model.MaxBatch, model.BatchAxes)).ConfigureAwait(false);
                    log.Write(EdgeRuntime.Server.LogLevel.Info, "models", $"loaded {model.Name} from {loaded.Path} in {loaded.LoadMs:0.0} ms on {string.Join(", ", loaded.Providers)}");
                    foreach (string warning in loaded.Warnings)
                    {
                        log.Write(EdgeRuntime.Server.LogLevel.Warning, "models", $"{model.Name}: {warning}");
                    }
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    log.Write(EdgeRuntime.Server.LogLevel.Error, "models", $"preload of {model.Name} failed: {e.Message}");
                    metrics.ReportProblem($"model {model.Name}", e.Message);
                }
            }
        }
    }
}
