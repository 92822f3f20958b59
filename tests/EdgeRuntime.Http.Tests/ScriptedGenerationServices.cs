using System.Diagnostics.CodeAnalysis;
using System.Threading.Channels;
using EdgeRuntime.Protocol;
using EdgeRuntime.Server;

namespace EdgeRuntime.Http.Tests;

/// <summary>
/// The daemon's language models as a script: each started generation is handed to the test (<see cref="Started"/>),
/// which emits its tokens and ends it by hand. Model "lm" is loaded; any other name is unknown, as in the daemon.
/// </summary>
internal sealed class ScriptedGenerationServices : IGenerationServices
{
    public static readonly DateTimeOffset LoadedAt = new(2025, 1, 2, 3, 4, 5, TimeSpan.Zero);

    public Channel<ScriptedRun> Started { get; } = Channel.CreateUnbounded<ScriptedRun>();

    /// <summary>When set, Start throws it instead of starting (the engine refusing a request).</summary>
    public EdgeRuntimeException? Refusal { get; set; }

    public bool IsLanguageModel(string path) => path == "lm";

    public Task<ModelInfo> LoadAsync(LoadRequest request, CancellationToken cancellationToken) => Task.FromResult(Info);

    public bool TryGetInfo(string name, [NotNullWhen(true)] out ModelInfo? info)
    {
        info = name == "lm" ? Info : null;
        return info is not null;
    }

    public ModelSummary[] Models() => [new("lm", "/models/lm", ["CPUExecutionProvider"], LoadedAt) { Kind = ModelKinds.Language, ContextLength = 2048 }];

    public bool Unload(string name) => false;

    public IGeneration Start(GenerateRequest request, ReadOnlyMemory<byte> payload)
    {
        if (Refusal is { } refusal)
        {
            throw refusal;
        }

        if (request.Model != "lm")
        {
            throw new EdgeRuntimeException(ErrorCodes.UnknownModel, $"No model named '{request.Model}' is loaded.");
        }

        var run = new ScriptedRun(request);
        Started.Writer.TryWrite(run);
        return run;
    }

    /// <summary>The next generation started, failing the test if none starts soon.</summary>
    public async Task<ScriptedRun> NextAsync() => await Started.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(15));

    private static ModelInfo Info => new("lm", "/models/lm", 0, ["CPUExecutionProvider"], [], [], 0, LoadedAt, [], [], "scripted")
    {
        Kind = ModelKinds.Language,
        ContextLength = 2048,
    };
}

/// <summary>One scripted generation: the test emits tokens, then finishes or fails it; <see cref="Cancelled"/> records Cancel.</summary>
internal sealed class ScriptedRun(GenerateRequest request) : IGeneration
{
    private readonly Channel<TokenEvent> _tokens = Channel.CreateUnbounded<TokenEvent>();
    private readonly TaskCompletionSource<GenerateResponse> _summary = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _emitted;

    public GenerateRequest Request { get; } = request;

    public TaskCompletionSource Cancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ChannelReader<TokenEvent> Tokens => _tokens.Reader;

    public Task<GenerateResponse> Summary => _summary.Task;

    public void Cancel() => Cancelled.TrySetResult();

    public ScriptedRun Emit(params string[] pieces)
    {
        foreach (string piece in pieces)
        {
            _tokens.Writer.TryWrite(new TokenEvent(_emitted, 1000 + _emitted, piece, _emitted * 1000.0));
            _emitted++;
        }

        return this;
    }

    public void Finish(string stopReason, int promptTokens = 5)
    {
        _tokens.Writer.TryComplete();
        _summary.TrySetResult(new GenerateResponse("lm", stopReason, promptTokens, _emitted, 1, 100, 50, 5));
    }

    public void Fail(EdgeRuntimeException error)
    {
        _tokens.Writer.TryComplete(error);
        _summary.TrySetException(error);
    }
}
