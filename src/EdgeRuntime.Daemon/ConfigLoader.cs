using System.Text.Json;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Daemon;

/// <summary>Finds, reads and checks the configuration, and applies command-line overrides.</summary>
internal static class ConfigLoader
{
    public const string EnvironmentVariable = "EDGED_CONFIG";
    public const string SystemPath = "/etc/edgeruntime/edged.json";

    /// <summary>--config, else $EDGED_CONFIG, else edged.json beside the executable, else /etc/edgeruntime/edged.json, else none.</summary>
    public static string? Locate(string? explicitPath)
    {
        if (!string.IsNullOrEmpty(explicitPath))
        {
            return explicitPath;
        }

        string? fromEnvironment = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrEmpty(fromEnvironment))
        {
            return fromEnvironment;
        }

        string besideExecutable = Path.Combine(AppContext.BaseDirectory, "edged.json");
        if (File.Exists(besideExecutable))
        {
            return besideExecutable;
        }

        return File.Exists(SystemPath) ? SystemPath : null;
    }

    /// <summary>Reads a configuration file. Relative model directories become relative to the file's folder.</summary>
    public static DaemonConfig Load(string? path)
    {
        if (path is null)
        {
            return new DaemonConfig { ModelDirectory = Path.GetFullPath("models") };
        }

        string fullPath = Path.GetFullPath(path);
        if (!File.Exists(fullPath))
        {
            throw new ConfigException($"Configuration file '{fullPath}' does not exist.");
        }

        DaemonConfig? config;
        try
        {
            config = JsonSerializer.Deserialize(File.ReadAllBytes(fullPath), DaemonJsonContext.Default.DaemonConfig);
        }
        catch (JsonException e)
        {
            throw new ConfigException($"Configuration file '{fullPath}' is not valid: {e.Message}");
        }

        if (config is null)
        {
            throw new ConfigException($"Configuration file '{fullPath}' holds null, not an object.");
        }

        string folder = Path.GetDirectoryName(fullPath)!;
        config = config with
        {
            ModelDirectory = Path.GetFullPath(Path.Combine(folder, config.ModelDirectory)),
            AllowedModelRoots = [.. config.AllowedModelRoots.Select(root => string.IsNullOrWhiteSpace(root) ? root : Path.GetFullPath(root, folder))],
            AllowedInputRoots = [.. config.AllowedInputRoots.Select(root => string.IsNullOrWhiteSpace(root) ? root : Path.GetFullPath(root, folder))],
            BoardProfile = config.BoardProfile is null ? null : Path.GetFullPath(Path.Combine(folder, config.BoardProfile)),
            Store = config.Store is null ? null : config.Store with { Path = Path.GetFullPath(config.Store.Path, folder) },
            Sensors = [.. config.Sensors.Select(s => s.Path is null ? s : s with { Path = Path.GetFullPath(s.Path, folder) })],
            Pipelines = [.. config.Pipelines.Select(p => p with { Inputs = p.Inputs.ToDictionary(i => i.Key, i => i.Value.WithPath(path => Path.GetFullPath(path, folder)), StringComparer.Ordinal) })],
        };
        Validate(config, fullPath);
        return config;
    }

    public static void Validate(DaemonConfig config, string source)
    {
        void Require(bool condition, string field, string rule)
        {
            if (!condition)
            {
                throw new ConfigException($"{source}: '{field}' {rule}.");
            }
        }

        Require(config.Threads.IntraOp is null or >= 1, "threads.intraOp", "must be at least 1");
        Require(config.Threads.InterOp is null or >= 1, "threads.interOp", "must be at least 1");
        Require(config.Threads.Workers is null or >= 0, "threads.workers", "must be 0 (one per processor) or more");
        Require(config.Threads.ReceiveSpinMicroseconds is >= 0 and <= 10_000, "threads.receiveSpinMicroseconds", "must be between 0 and 10000");
        Require(config.Limits.MaxFrameBytes >= 1024, "limits.maxFrameBytes", "must be at least 1024");
        Require(config.Limits.MaxFrameBytes <= int.MaxValue, "limits.maxFrameBytes", $"must be at most {int.MaxValue}");
        Require(config.Limits.MaxInFlightPerConnection >= 1, "limits.maxInFlightPerConnection", "must be at least 1");
        Require(config.Limits.MaxConnections >= 1, "limits.maxConnections", "must be at least 1");
        Require(config.Limits.QueueCapacity >= 1, "limits.queueCapacity", "must be at least 1");
        Require(config.Limits.MaxConnectionsPerUid >= 0, "limits.maxConnectionsPerUid", "must be 0 (three quarters of maxConnections) or more");
        Require(config.Limits.MaxConnectionsPerUid <= config.Limits.MaxConnections, "limits.maxConnectionsPerUid", "must be at most limits.maxConnections");
        Require(config.Limits.FrameTimeoutSeconds > 0, "limits.frameTimeoutSeconds", "must be positive");
        Require(config.Limits.IdleTimeoutSeconds >= 0, "limits.idleTimeoutSeconds", "must be 0 (never) or more");
        Require(config.Limits.TrimMemoryWhenIdleSeconds >= 0, "limits.trimMemoryWhenIdleSeconds", "must be 0 (never) or more");
        Require(config.AllowedModelRoots.All(r => !string.IsNullOrWhiteSpace(r)), "allowedModelRoots", "must not contain an empty path");
        Require(config.AllowedInputRoots.All(r => !string.IsNullOrWhiteSpace(r)), "allowedInputRoots", "must not contain an empty path");
        Require(config.Limits.ShutdownTimeoutSeconds > 0, "limits.shutdownTimeoutSeconds", "must be positive");
        Require(config.Limits.MaxPendingBytes >= config.Limits.MaxFrameBytes, "limits.maxPendingBytes", "must be at least limits.maxFrameBytes");
        Require(config.Limits.SendTimeoutSeconds > 0, "limits.sendTimeoutSeconds", "must be positive");
        Require(config.SharedMemory.MaxRegionMiB > 0 && config.SharedMemory.MaxRegionMiB < 2048, "sharedMemory.maxRegionMiB", "must be above 0 and below 2048");
        Require(config.SharedMemory.MaxRegionsPerConnection >= 1, "sharedMemory.maxRegionsPerConnection", "must be at least 1");
        var generation = config.Generation;
        Require(generation.ContextLimit >= 0, "generation.contextLimit", "must be 0 (the model's context) or more");
        Require(generation.Sessions >= 1, "generation.sessions", "must be at least 1");
        Require(generation.MaxBatch >= 1, "generation.maxBatch", "must be at least 1");
        Require(generation.QueueCapacity >= 0, "generation.queueCapacity", "must be 0 or more");
        Require(generation.PrefillChunk >= 1, "generation.prefillChunk", "must be at least 1");
        Require(generation.IdleTimeoutMinutes > 0, "generation.idleTimeoutMinutes", "must be positive");
        Require(generation.DefaultMaxTokens >= 1, "generation.defaultMaxTokens", "must be at least 1");
        Require(generation.Threads is null or >= 1, "generation.threads", "must be at least 1");
        Require(config.Http?.SocketPath is null || !string.IsNullOrWhiteSpace(config.Http.SocketPath), "http.socketPath", "must not be empty (leave it out, or null, to turn the HTTP endpoint off)");
        var allowedGids = new List<uint>(config.AllowedGids);
        for (int i = 0; i < config.AllowedGroups.Length; i++)
        {
            Require(GroupNames.TryResolve(config.AllowedGroups[i], out uint gid), $"allowedGroups[{i}]", $"names '{config.AllowedGroups[i]}', which is not a group on this system");
            allowedGids.Add(gid);
        }

        config.AllowedGids = [.. allowedGids.Distinct()];
        config.AllowedGroups = [];
        for (int i = 0; i < config.Pipelines.Length; i++)
        {
            var pipeline = config.Pipelines[i];
            foreach (var (field, rule) in PipelineDefinitionRules.Broken(pipeline))
            {
                Require(false, $"pipelines[{i}].{field}", rule);
            }

            Require(config.Pipelines.Count(p => p.Name == pipeline.Name) == 1, $"pipelines[{i}].name", $"'{pipeline.Name}' is used twice");
        }

        Require(config.Triggers.Length == 0 || config.Store is not null, "store", "is needed when there are triggers: every triggered result is stored before it is delivered (e.g. \"store\": { \"path\": \"/var/lib/edgeruntime/results\" })");
        if (config.Store is { } store)
        {
            Require(!string.IsNullOrWhiteSpace(store.Path), "store.path", "must not be empty");
            Require(store.MaxMiB > 0, "store.maxMiB", "must be positive");
            Require(store.MaxAgeHours is > 0 and <= 24 * 365 * 100, "store.maxAgeHours", "must be positive and at most 100 years");
            Require(store.SegmentKiB >= 4 && store.SegmentKiB * 1024 <= store.MaxMiB * 1024 * 1024, "store.segmentKiB", "must be at least 4 and at most store.maxMiB");
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < config.Models.Length; i++)
        {
            var model = config.Models[i];
            Require(!string.IsNullOrWhiteSpace(model.Name), $"models[{i}].name", "must not be empty");
            Require(!string.IsNullOrWhiteSpace(model.Path), $"models[{i}].path", "must not be empty");
            Require(names.Add(model.Name), $"models[{i}].name", $"repeats the name '{model.Name}'");
            Require(model.OnMissingProvider is null || Inference.Providers.MissingProviderActions.TryParse(model.OnMissingProvider, out _), $"models[{i}].onMissingProvider", "must be 'fallback' or 'fail'");
            Require(model.KernelFallback is null || Inference.Onnx.KernelFallbackModes.TryParse(model.KernelFallback, out _), $"models[{i}].kernelFallback", "must be 'auto', 'force' or 'off'");
            Require(model.MaxBatch is null or (>= 1 and <= Inference.Batching.BatchingOptions.Limit), $"models[{i}].maxBatch", $"must be 1 (no batching) to {Inference.Batching.BatchingOptions.Limit}");
            Require(model.BatchAxes is null || model.MaxBatch is not null, $"models[{i}].batchAxes", "needs maxBatch");
            foreach (string provider in model.Providers ?? [])
            {
                Require(Inference.Providers.ProviderNames.TryParse(provider, out _), $"models[{i}].providers", $"names '{provider}'; known providers are {string.Join(", ", Inference.Providers.ProviderNames.All)}");
            }
        }
    }
}

internal sealed class ConfigException(string message) : Exception(message);
