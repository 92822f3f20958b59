using EdgeRuntime.Inference.Onnx;
using EdgeRuntime.Protocol;
using Microsoft.ML.OnnxRuntime;
using EdgeRuntime.Onnx;

namespace EdgeRuntime.Inference.Providers;

/// <summary>A session and how it came to be: the providers it runs on, the warnings of the way there, the file loaded.</summary>
public sealed record ProviderSession(InferenceSession Session, string[] Providers, string[] Warnings, string LoadedFrom, bool Profiling)
{
    /// <summary>Nodes moved onto our ai.edgeruntime kernels for this session's primary provider.</summary>
    public IReadOnlyList<RewrittenNode> Rewrites { get; init; } = [];

    /// <summary>Where ORT writes the profile while profiling is on; deleted if the session is disposed unread.</summary>
    public string? ProfilePrefix { get; init; }
}

/// <summary>
/// Applies the execution-provider policy: providers are tried in the profile's order, CPU is always last, and a
/// provider that this build or machine lacks is skipped with a warning (fallback) or refuses the load (fail).
/// </summary>
public sealed class SessionBuilder(IProviderBackend backend)
{
    public static readonly SessionBuilder Default = new(OrtProviderBackend.Instance);

    public IProviderBackend Backend { get; } = backend;

    /// <param name="profileFirstRun">Enable ORT profiling so the first run reports where each node ran (see <see cref="PlacementProbe"/>).</param>
    public ProviderSession Create(string modelPath, InferenceOptions options, ProviderChoice choice, bool profileFirstRun)
    {
        var skipped = new List<string>();
        var declined = new List<string>();
        var candidates = choice.Providers.Where(p => p.Kind != ProviderKind.Cpu).ToList();
        DeclineUnsuitable(modelPath, candidates, declined, choice.OnMissing);

        while (true)
        {
            var notes = new List<string>(declined);
            using var sessionOptions = SessionFactory.CreateOptions(options);
            var appended = new List<ProviderSpec>();
            foreach (var spec in candidates.ToArray())
            {
                try
                {
                    Backend.Append(sessionOptions, spec);
                    appended.Add(spec);
                }
                catch (ProviderUnavailableException e)
                {
                    if (choice.OnMissing == MissingProviderAction.Fail)
                    {
                        throw Refused(e.Provider, e.Reason, e.Remedy, e);
                    }

                    skipped.Add($"{spec.Name} unavailable ({e.Reason})");
                    candidates.Remove(spec);
                }
            }

            string[] providers = [.. appended.Select(p => ProviderNames.OrtName(p.Kind)), ProviderNames.OrtName(ProviderKind.Cpu)];
            var (rewrittenModel, rewrites) = RewriteForKernels(modelPath, choice.KernelFallback, providers[0]);
            string path = rewrittenModel is null ? ApplyQnnContextCache(modelPath, appended, sessionOptions, notes) : modelPath;
            string? profilePrefix = profileFirstRun ? PlacementProbe.Enable(sessionOptions) : null;
            try
            {
                var session = rewrittenModel is null ? Backend.CreateSession(path, sessionOptions) : CreateRewritten(rewrittenModel, modelPath, sessionOptions, notes, ref rewrites);
                string[] warnings = [.. skipped.Select(s => $"{s}; loaded on {string.Join(", ", providers)}"), .. notes];
                return new ProviderSession(session, providers, warnings, path, profileFirstRun) { ProfilePrefix = profilePrefix, Rewrites = rewrites };
            }
            catch (OnnxRuntimeException e)
            {
                if (profilePrefix is not null)
                {
                    PlacementProbe.DeleteProfiles(profilePrefix);
                }

                if (path != modelPath)
                {
                    // A cached QNN context that no longer loads (cut short while written, an SDK upgrade): compile
                    // again from the model rather than give up the NPU for good.
                    TryDelete(path);
                    declined.Add($"qnn: the cached EP context {path} did not load and was removed ({e.Message.Trim()})");
                    continue;
                }

                if (appended.Count == 0)
                {
                    throw;
                }

                // A provider took its options but failed when the session was built: its backend library is missing,
                // there is no device, or its kernels do not fit the GPU. Under fail, a model that loads on the CPU
                // alone shows the provider is at fault; one that does not is itself at fault (model_load_failed).
                string reason = CudaErrors.WithExplanation(e.Message.Trim());
                if (choice.OnMissing == MissingProviderAction.Fail)
                {
                    if (!LoadsOnCpu(modelPath, options))
                    {
                        throw;
                    }

                    string names = string.Join(", ", appended.Select(p => p.Name));
                    throw Refused(appended[0].Kind, $"the session could not be created with {names}: {reason}", ProviderUnavailableException.RemedyFor(appended[0].Kind), e);
                }

                // Under fallback, drop the first provider and try the rest: the message usually names the culprit,
                // and if it was not the first, the next attempt says so again.
                var first = appended[0];
                skipped.Add($"{first.Name} failed to initialise ({reason})");
                candidates.Remove(first);
            }
        }
    }

    /// <summary>
    /// The model with the nodes the primary provider lacks (or all handled ones, under force) moved onto our kernels,
    /// or null when nothing moves. A rewritten model is loaded from memory, so QNN's EP-context cache (keyed by the
    /// file) is not used for it.
    /// </summary>
    private static (byte[]? Model, IReadOnlyList<RewrittenNode> Nodes) RewriteForKernels(string modelPath, KernelFallbackMode mode, string primaryProvider)
    {
        // Under auto, a CPU-only session lacks nothing: spare reading the model.
        if (mode == KernelFallbackMode.Off || (mode == KernelFallbackMode.Auto && primaryProvider == ProviderNames.OrtName(ProviderKind.Cpu)))
        {
            return (null, []);
        }

        byte[] original = File.ReadAllBytes(modelPath);
        byte[] model;
        IReadOnlyList<RewrittenNode> nodes;
        try
        {
            (model, nodes) = KernelFallbackRewriter.Rewrite(original, mode, primaryProvider);
        }
        catch (InvalidDataException)
        {
            // Not a readable ONNX protobuf: ORT will refuse it with its own message (model_load_failed).
            return (null, []);
        }

        if (nodes.Count == 0)
        {
            return (null, []);
        }

        return (model, nodes);
    }

    /// <summary>
    /// The session from the rewritten model; should ORT refuse that model, the original is loaded instead and a
    /// warning says why, so the rewrite can never be what makes a load fail or a provider look broken.
    /// </summary>
    private InferenceSession CreateRewritten(byte[] model, string modelPath, SessionOptions sessionOptions, List<string> notes, ref IReadOnlyList<RewrittenNode> rewrites)
    {
        // Weights kept in external data files are found relative to the original model's folder.
        sessionOptions.AddSessionConfigEntry("session.model_external_initializers_file_folder_path", Path.GetDirectoryName(Path.GetFullPath(modelPath)) ?? ".");
        try
        {
            return Backend.CreateSession(model, sessionOptions);
        }
        catch (OnnxRuntimeException e)
        {
            notes.Add($"the model rewritten onto ai.edgeruntime kernels did not load ({e.Message.Trim()}); loaded as it is");
            rewrites = [];
            return Backend.CreateSession(modelPath, sessionOptions);
        }
    }

    private static EdgeRuntimeException Refused(ProviderKind kind, string reason, string remedy, Exception inner) =>
        new(ErrorCodes.ProviderUnavailable, $"Execution provider '{ProviderNames.Name(kind)}' is required (onMissingProvider: fail) but unavailable: {reason}. To get it: {remedy}.", inner);

    /// <summary>
    /// Drops QNN HTP for models it cannot run well, saying why: a warning under fallback, a refusal under fail (the
    /// model was meant for the NPU and would otherwise end up on the CPU).
    /// </summary>
    private static void DeclineUnsuitable(string modelPath, List<ProviderSpec> candidates, List<string> notes, MissingProviderAction onMissing)
    {
        var htp = candidates.FirstOrDefault(p => p.Kind == ProviderKind.Qnn && QnnOptions.IsHtp(p));
        if (htp is null)
        {
            return;
        }

        string? reason;
        string? fallbacks;
        try
        {
            var summary = OnnxModelSummary.ReadFile(modelPath);
            reason = QnnOptions.HtpUnsuitability(summary);
            fallbacks = QnnOptions.HtpFallbacks(summary);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or OutOfMemoryException)
        {
            // Unreadable here means ORT will say what is wrong; offer the model and let it.
            return;
        }

        if (reason is not null && onMissing == MissingProviderAction.Fail)
        {
            throw new EdgeRuntimeException(ErrorCodes.ProviderUnavailable, $"Execution provider 'qnn' is required (onMissingProvider: fail) but the model is not fit for the NPU (HTP): {reason}.");
        }

        if (reason is not null)
        {
            notes.Add($"qnn: not offered to the NPU (HTP): {reason}");
            candidates.Remove(htp);
        }
        else if (fallbacks is not null)
        {
            notes.Add($"qnn: part of the model stays on the CPU: {fallbacks}");
        }
    }

    private static string ApplyQnnContextCache(string modelPath, List<ProviderSpec> appended, SessionOptions sessionOptions, List<string> notes)
    {
        var qnn = appended.FirstOrDefault(p => p.Kind == ProviderKind.Qnn && p.ContextCacheDirectory is not null);
        if (qnn is null)
        {
            return modelPath;
        }

        string cache = QnnOptions.ContextCachePath(qnn.ContextCacheDirectory!, modelPath, OrtProviderBackend.RuntimeVersion);
        if (File.Exists(cache))
        {
            notes.Add($"qnn: loaded the compiled EP context {cache}");
            return cache;
        }

        try
        {
            Directory.CreateDirectory(qnn.ContextCacheDirectory!);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            notes.Add($"qnn: no EP-context cache: {qnn.ContextCacheDirectory} cannot be created ({e.Message})");
            return modelPath;
        }

        foreach (var (key, value) in QnnContextCacheEntries(cache))
        {
            sessionOptions.AddSessionConfigEntry(key, value);
        }

        notes.Add($"qnn: compiled EP context written to {cache} for the next load");
        return modelPath;
    }

    /// <summary>The session config entries that make ORT write a QNN EP-context model (the compiled graph embedded).</summary>
    public static IReadOnlyList<(string Key, string Value)> QnnContextCacheEntries(string cachePath) =>
    [
        ("ep.context_enable", "1"),
        ("ep.context_file_path", cachePath),
        ("ep.context_embed_mode", "1"),
    ];

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // It will fail to load again and be reported again.
        }
    }

    private bool LoadsOnCpu(string modelPath, InferenceOptions options)
    {
        try
        {
            using var sessionOptions = SessionFactory.CreateOptions(options);
            using var session = Backend.CreateSession(modelPath, sessionOptions);
            return true;
        }
        catch (OnnxRuntimeException)
        {
            return false;
        }
    }
}
