using System.Diagnostics;
using System.Globalization;
using System.Text;
using EdgeRuntime.Generation.Decoding;
using EdgeRuntime.Generation.Folder;
using EdgeRuntime.Generation.Sampling;
using EdgeRuntime.Generation.Tokenization;
using EdgeRuntime.Inference;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Generation.Engine;

/// <summary>
/// A language model served by the daemon: the decoder, its tokenizer and chat template, the sessions it holds, and
/// the loop (<see cref="GenerationLoop"/>) that runs them. <see cref="Start"/> checks a request and queues it; the
/// loop prefills it in chunks and decodes it in a batch with the other running sessions.
/// </summary>
public sealed class LanguageModel : IDisposable
{
    private readonly DecoderModel _decoder;
    private readonly GenerationLoop _loop;
    private readonly ChatTemplate? _template;
    private readonly ImageEncoder? _vision;
    private long _nextSeed = Stopwatch.GetTimestamp();

    private LanguageModel(string name, string path, DecoderModel decoder, ModelTokenizer tokenizer, ChatTemplate? template, ImageEncoder? vision, GenerationOptions options, double loadMs)
    {
        Name = name;
        _vision = vision;
        Path = path;
        _decoder = decoder;
        Tokenizer = tokenizer;
        _template = template;
        Options = options;
        LoadMs = loadMs;
        LoadedAt = DateTimeOffset.UtcNow;
        var endOfSequence = new HashSet<int>(decoder.Config.EosTokenIds);
        if (template is not null && tokenizer.TokenId(template.EndOfTurnToken) is { } endOfTurn)
        {
            endOfSequence.Add(endOfTurn);
            EndOfTurnId = endOfTurn;
        }

        EndOfSequence = endOfSequence;
        _loop = new GenerationLoop(name, decoder, options);
    }

    public string Name { get; }

    public string Path { get; }

    public LanguageModelConfig Config => _decoder.Config;

    public ModelTokenizer Tokenizer { get; }

    public GenerationOptions Options { get; }

    /// <summary>Positions one session holds: the model's context, or the configured limit.</summary>
    public int ContextLength => _decoder.Capacity;

    public double LoadMs { get; }

    public DateTimeOffset LoadedAt { get; }

    public long WeightBytes => _decoder.WeightBytes;

    /// <summary>Bytes of all sessions' state (KV caches and conv states), allocated at load.</summary>
    public long CacheBytes => _decoder.State.Bytes;

    /// <summary>The layers by mixer: "30 attention", "10 conv + 6 attention".</summary>
    public string LayerSummary
    {
        get
        {
            int conv = LayerKinds.Layers(Config, LayerKinds.Conv).Length;
            return conv == 0 ? $"{Config.Layers} attention" : $"{conv} conv + {Config.Layers - conv} attention";
        }
    }

    /// <summary>"grouped-query", or DeltaAttention's window and threshold with the share of q·k work skipped so far.</summary>
    public string AttentionSummary
    {
        get
        {
            if (Config.DeltaAttention is not { } delta)
            {
                return "grouped-query";
            }

            var (skipped, total) = _decoder.State.Delta!.Counts();
            string share = total == 0 ? "no decode steps yet" : string.Create(CultureInfo.InvariantCulture, $"{100.0 * skipped / total:0.0}% of the decode steps' q·k work skipped so far");
            return string.Create(CultureInfo.InvariantCulture, $"DeltaAttention (window {delta.Window}, threshold {delta.Threshold}): {share}");
        }
    }

    /// <summary>A static-shape folder's graphs, e.g. "prefill 32 tokens, decode 1, cache 256"; null otherwise.</summary>
    public string? StaticShapesSummary => Config.Static is { } shapes ? $"prefill {shapes.PrefillChunk} tokens, decode 1, cache {shapes.Capacity}" : null;

    /// <summary>Bytes one session's state takes at full context (its KV cache and conv state).</summary>
    public long SessionStateBytes => _decoder.State.BytesPerSession;

    internal IReadOnlySet<int> EndOfSequence { get; }

    internal int? EndOfTurnId { get; }

    /// <summary>Running, queued and kept sessions, for health.</summary>
    public GenerationLoad Load() => _loop.Load();

    /// <summary>Opens a model folder, maps its weights, builds the session and allocates the sessions' caches.</summary>
    public static LanguageModel Load(string name, string path, GenerationOptions options)
    {
        var started = Stopwatch.GetTimestamp();
        var folder = LanguageModelFolder.Open(path);
        var config = folder.Config;
        int capacity = options.ContextLimit > 0 ? Math.Min(options.ContextLimit, config.ContextLength) : config.ContextLength;
        int slots = Math.Max(1, options.Sessions) + 1; // one spare slot: the scratch space that lets two sessions trade slots
        long cacheBytes = DecoderState.BytesPerSessionFor(config, capacity) * slots;
        long weightBytes = new FileInfo(folder.WeightsPath).Length;
        if (options.MemoryBudgetBytes > 0)
        {
            long resident = ProcessMemory.ResidentBytes();
            if (resident + weightBytes + cacheBytes > options.MemoryBudgetBytes)
            {
                throw new EdgeRuntimeException(ErrorCodes.MemoryBudgetExceeded, $"{name} needs {Mib(weightBytes)} MiB of weights and {Mib(cacheBytes)} MiB of cache ({slots - 1} sessions of {capacity} positions); with {Mib(resident)} MiB in use that passes the budget of {Mib(options.MemoryBudgetBytes)} MiB. Lower generation.sessions or generation.contextLimit.");
            }
        }

        var tokenizer = ModelTokenizer.Load(folder.TokenizerPath, config.VocabSize);
        var template = config.ChatTemplate is { } templateName ? ChatTemplate.ForName(templateName) : null;
        var decoder = DecoderModel.Load(folder, new DecoderOptions { ContextLimit = capacity, Slots = slots, IntraOpThreads = options.IntraOpThreads, VerifyWeights = options.VerifyWeights });
        ImageEncoder? vision = null;
        try
        {
            // One thread: an image is a few hundred thousand multiply-adds, and requests encode theirs concurrently.
            vision = folder.VisionGraphPath is { } visionPath ? ImageEncoder.Load(visionPath, config.Vision!, config.HiddenSize, threads: 1) : null;
        }
        catch
        {
            decoder.Dispose();
            throw;
        }

        return new LanguageModel(name, path, decoder, tokenizer, template, vision, options, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    /// <summary>
    /// Checks and queues a request. Bad input throws an <see cref="EdgeRuntimeException"/> naming the problem; a full
    /// queue throws <see cref="ErrorCodes.Busy"/>. The run's tokens and summary follow on the returned object.
    /// </summary>
    public GenerationRun Start(GenerateRequest request) => Start(request, default);

    /// <param name="payload">The request frame's payload, where <see cref="GenerateRequest.Image"/> points.</param>
    public GenerationRun Start(GenerateRequest request, ReadOnlySpan<byte> payload)
    {
        if ((request.Prompt is null) == (request.Messages is null))
        {
            throw new EdgeRuntimeException(ErrorCodes.InvalidPrompt, "A generate request needs exactly one of \"prompt\" (text) or \"messages\" (a chat).");
        }

        // With an image, an empty prompt is a question in itself: the model continues from the image (and BOS).
        if ((request.Prompt is { Length: 0 } && request.Image is null) || request.Messages is { Length: 0 })
        {
            throw new EdgeRuntimeException(ErrorCodes.InvalidPrompt, "The prompt is empty: give some text (or at least one chat message) to continue from.");
        }

        if (request.MaxTokens is <= 0)
        {
            throw new EdgeRuntimeException(ErrorCodes.BadRequest, $"maxTokens is {request.MaxTokens}; it must be at least 1.");
        }

        if (request.Stop?.Any(string.IsNullOrEmpty) == true)
        {
            throw new EdgeRuntimeException(ErrorCodes.BadRequest, "A stop string is empty; every stop string needs at least one character.");
        }

        foreach (string text in request.Messages?.Select(m => m.Content).Append(request.Prompt ?? "") ?? [request.Prompt ?? ""])
        {
            if (!IsWellFormed(text))
            {
                throw new EdgeRuntimeException(ErrorCodes.InvalidPrompt, "The prompt is not valid Unicode text (it holds an unpaired surrogate): send UTF-8.");
            }
        }

        // The image is checked and encoded here, on the request's thread, before the run is queued.
        float[]? imagePrefix = null;
        if (request.Image is { } image)
        {
            if (_vision is null)
            {
                throw new EdgeRuntimeException(ErrorCodes.InvalidImage, $"{Name} takes no image: it is a text-only model (its config.json has no vision section).");
            }

            if (request.Session is not null)
            {
                throw new EdgeRuntimeException(ErrorCodes.InvalidImage, "An image starts a session: it goes before the first prompt token, so a turn that continues a session cannot carry one. Start a new session with the image.");
            }

            imagePrefix = _vision.Encode(_vision.Pixels(image, payload));
        }

        int imageTokens = imagePrefix is null ? 0 : _vision!.Settings.ImageTokens;
        var sampling = SamplingSettings.From(request.Sampling, (ulong)Interlocked.Increment(ref _nextSeed));
        return _loop.Submit(request.Session, keep: request.Keep, session =>
        {
            var tokens = new List<int>();
            if (session.Pending is { } pending)
            {
                tokens.Add(pending);
            }

            bool continuing = session.Length > 0 || session.Pending is not null;
            if (request.Messages is { } messages)
            {
                if (_template is null)
                {
                    throw new EdgeRuntimeException(ErrorCodes.InvalidPrompt, $"{Name} has no chat template (config.json names none); send \"prompt\" text instead of \"messages\".");
                }

                if (continuing && !session.EndedTurn && EndOfTurnId is { } endOfTurn)
                {
                    tokens.Add(endOfTurn); // the previous answer was cut short (maxTokens, a stop string): close its turn
                }

                Tokenizer.Encode(_template.Render(messages, isContinuation: continuing), tokens);
            }
            else
            {
                if (!continuing && Config.BosTokenId is { } bos)
                {
                    tokens.Add(bos);
                }

                Tokenizer.Encode(request.Prompt, tokens);
            }

            int newTokens = tokens.Count - (session.Pending is null ? 0 : 1);
            if (newTokens == 0)
            {
                throw new EdgeRuntimeException(ErrorCodes.InvalidPrompt, "The prompt is empty: there is nothing to continue from.");
            }

            int used = session.Length + imageTokens + tokens.Count;
            if (used >= ContextLength)
            {
                throw new EdgeRuntimeException(ErrorCodes.ContextOverflow, $"The prompt is {newTokens} tokens{(imageTokens > 0 ? $" after the image's {imageTokens}" : "")}{(session.Length > 0 ? $" after {session.Length} already in the session" : "")}; {Name}'s context holds {ContextLength}, which leaves no room to generate.");
            }

            int room = ContextLength - used;
            if (request.MaxTokens is { } max && max > room)
            {
                throw new EdgeRuntimeException(ErrorCodes.ContextOverflow, $"maxTokens is {max}, but after the prompt ({used} positions used) the context of {ContextLength} has room for {room}.");
            }

            int maxTokens = request.MaxTokens ?? Math.Min(Options.DefaultMaxTokens, room);
            var stopIds = new HashSet<int>(request.StopTokenIds ?? []);
            var stop = new StopConditions(EndOfSequence, stopIds, request.Stop ?? []);
            return new GenerationRun(Name, tokens, maxTokens, new Sampler(sampling), stop, new TokenTextStream(Tokenizer), session, session.Length) { ImagePrefix = imagePrefix };
        });
    }

    /// <summary>Ends a kept session and frees its cache; false when no such session exists.</summary>
    public bool EndSession(string id) => _loop.EndSession(id);

    public void Dispose()
    {
        _loop.Dispose();
        _decoder.Dispose();
        _vision?.Dispose();
    }

    private static bool IsWellFormed(string text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            if (Rune.DecodeFromUtf16(text.AsSpan(i), out _, out int consumed) != System.Buffers.OperationStatus.Done)
            {
                return false;
            }

            i += consumed - 1;
        }

        return true;
    }

    private static long Mib(long bytes) => bytes >> 20;
}

/// <summary>What a language model is doing: runs decoding or prefilling, requests queued, sessions kept idle.</summary>
public sealed record GenerationLoad(int Running, int Queued, int Kept);
