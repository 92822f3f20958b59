using System.Diagnostics.CodeAnalysis;
using System.Text;
using System.Threading.Channels;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Server.Tests;

/// <summary>generate, token and cancel on a connection, with a scripted generation service in place of the engine.</summary>
public sealed class GenerationStreamTests : IDisposable
{
    private readonly ScriptedGeneration _generation = new();
    private readonly ServerHarness _harness;

    public GenerationStreamTests()
    {
        _harness = new ServerHarness(generation: _generation);
    }

    public void Dispose() => _harness.Dispose();

    [Fact]
    public async Task Tokens_stream_under_the_request_id_then_the_summary_answers_it()
    {
        await using var connection = new InMemoryConnection(_harness);
        await connection.SendAsync(MessageType.Generate, 7, """{"model":"lm","prompt":"Hi","maxTokens":2}""");
        var run = await _generation.Started.Reader.ReadAsync();
        run.Emit(new TokenEvent(0, 72, "H", 10));
        run.Emit(new TokenEvent(1, 105, "i", 20));
        run.Finish(StopReasons.MaxTokens);

        var first = await connection.ReceiveAsync();
        var second = await connection.ReceiveAsync();
        var last = await connection.ReceiveAsync();
        Assert.Equal([MessageType.Token, MessageType.Token, MessageType.Generate], new[] { first!.Header.Type, second!.Header.Type, last!.Header.Type });
        Assert.All(new[] { first, second, last }, reply => Assert.Equal(7UL, reply.Header.RequestId));
        Assert.Equal("i", Json(second, ProtocolJsonContext.Default.TokenEvent).Text);
        var summary = Json(last, ProtocolJsonContext.Default.GenerateResponse);
        Assert.Equal(StopReasons.MaxTokens, summary.StopReason);
        Assert.Equal("Hi", run.Request.Prompt);
    }

    [Fact]
    public async Task Cancel_is_answered_after_the_cancelled_streams_last_frame()
    {
        await using var connection = new InMemoryConnection(_harness);
        await connection.SendAsync(MessageType.Generate, 3, """{"model":"lm","prompt":"Go"}""");
        var run = await _generation.Started.Reader.ReadAsync();
        run.Emit(new TokenEvent(0, 1, "a", 1));
        Assert.Equal(MessageType.Token, (await connection.ReceiveAsync())!.Header.Type);

        await connection.SendAsync(MessageType.Cancel, 4, """{"requestId":3}""");
        await run.Cancelled.Task.WaitAsync(TimeSpan.FromSeconds(10));
        run.Finish(StopReasons.Cancelled);

        var summary = await connection.ReceiveAsync();
        var answer = await connection.ReceiveAsync();
        Assert.Equal((MessageType.Generate, 3UL), (summary!.Header.Type, summary.Header.RequestId));
        Assert.Equal(StopReasons.Cancelled, Json(summary, ProtocolJsonContext.Default.GenerateResponse).StopReason);
        Assert.Equal((MessageType.Cancel, 4UL), (answer!.Header.Type, answer.Header.RequestId));
        Assert.True(Json(answer, ProtocolJsonContext.Default.CancelResponse).Cancelled);
    }

    [Fact]
    public async Task Cancel_of_no_running_generation_answers_that_nothing_was_cancelled()
    {
        await using var connection = new InMemoryConnection(_harness);
        var reply = await connection.RequestAsync(MessageType.Cancel, 1, """{"requestId":99}""");
        Assert.False(reply.Header.IsError, reply.Json);
        Assert.False(Json(reply, ProtocolJsonContext.Default.CancelResponse).Cancelled);
    }

    [Fact]
    public async Task A_client_that_goes_away_cancels_its_generation()
    {
        var connection = new InMemoryConnection(_harness);
        await connection.SendAsync(MessageType.Generate, 5, """{"model":"lm","prompt":"Go"}""");
        var run = await _generation.Started.Reader.ReadAsync();
        await connection.ClientOutput.CompleteAsync();
        await run.Cancelled.Task.WaitAsync(TimeSpan.FromSeconds(10));
        run.Finish(StopReasons.Cancelled);
        await connection.Running.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task An_engine_error_after_some_tokens_ends_the_stream_with_its_code()
    {
        await using var connection = new InMemoryConnection(_harness);
        await connection.SendAsync(MessageType.Generate, 8, """{"model":"lm","prompt":"Go"}""");
        var run = await _generation.Started.Reader.ReadAsync();
        run.Emit(new TokenEvent(0, 1, "a", 1));
        run.Fail(new EdgeRuntimeException(ErrorCodes.InferenceFailed, "boom"));
        Assert.Equal(MessageType.Token, (await connection.ReceiveAsync())!.Header.Type);
        var error = await connection.ReceiveAsync();
        Assert.True(error!.Header.IsError);
        Assert.Equal(ErrorCodes.InferenceFailed, error.Error.Code);
    }

    [Fact]
    public async Task Each_model_kind_refuses_the_other_kinds_message_by_name()
    {
        await using var connection = new InMemoryConnection(_harness);
        Assert.False((await connection.RequestAsync(MessageType.Load, 1, """{"name":"add","path":"add.onnx"}""")).Header.IsError);
        var generateOnTensor = await connection.RequestAsync(MessageType.Generate, 2, """{"model":"add","prompt":"x"}""");
        Assert.Equal(ErrorCodes.WrongModelKind, generateOnTensor.Error.Code);
        var inferOnLanguage = await connection.RequestAsync(MessageType.Infer, 3, """{"model":"lm","inputs":[]}""");
        Assert.Equal(ErrorCodes.WrongModelKind, inferOnLanguage.Error.Code);
        var unknown = await connection.RequestAsync(MessageType.Generate, 4, """{"model":"nobody","prompt":"x"}""");
        Assert.Equal(ErrorCodes.UnknownModel, unknown.Error.Code);
    }

    [Fact]
    public async Task A_generate_that_is_not_utf8_is_refused_as_an_invalid_prompt()
    {
        await using var connection = new InMemoryConnection(_harness);
        byte[] json = [.. """{"model":"lm","prompt":"caf"""u8, 0xE9, .. "\"}"u8];
        FrameWriter.Write(connection.ClientOutput, MessageType.Generate, FrameFlags.None, 6, json, []);
        await connection.ClientOutput.FlushAsync();
        var reply = await connection.ReceiveAsync();
        Assert.Equal(ErrorCodes.InvalidPrompt, reply!.Error.Code);
    }

    [Fact]
    public async Task Models_and_info_list_the_language_model_with_its_kind_and_context()
    {
        await using var connection = new InMemoryConnection(_harness);
        var models = Json(await connection.RequestAsync(MessageType.Models, 1, "{}"), ProtocolJsonContext.Default.ModelsResponse);
        var lm = Assert.Single(models.Models, m => m.Name == "lm");
        Assert.Equal(ModelKinds.Language, lm.Kind);
        var info = Json(await connection.RequestAsync(MessageType.Info, 2, """{"name":"lm"}"""), ProtocolJsonContext.Default.ModelInfo);
        Assert.Equal((ModelKinds.Language, 64), (info.Kind, info.ContextLength));
    }

    private static T Json<T>(Reply reply, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type) =>
        ProtocolJson.Deserialize(Encoding.UTF8.GetBytes(reply.Json), type);

    /// <summary>A generation service whose runs the test drives by hand: one language model, "lm".</summary>
    private sealed class ScriptedGeneration : IGenerationServices
    {
        public Channel<ScriptedRun> Started { get; } = Channel.CreateUnbounded<ScriptedRun>();

        private static ModelInfo Info => new("lm", "/models/lm", 0, ["CPUExecutionProvider"], [], [], 0, DateTimeOffset.UnixEpoch, [], [], "scripted") { Kind = ModelKinds.Language, ContextLength = 64 };

        public bool IsLanguageModel(string path) => path == "lm";

        public Task<ModelInfo> LoadAsync(LoadRequest request, CancellationToken cancellationToken) => Task.FromResult(Info);

        public bool TryGetInfo(string name, [NotNullWhen(true)] out ModelInfo? info)
        {
            info = name == "lm" ? Info : null;
            return info is not null;
        }

        public ModelSummary[] Models() => [new("lm", "/models/lm", ["CPUExecutionProvider"], DateTimeOffset.UnixEpoch) { Kind = ModelKinds.Language, ContextLength = 64 }];

        public bool Unload(string name) => name == "lm";

        public IGeneration Start(GenerateRequest request, ReadOnlyMemory<byte> payload)
        {
            var run = new ScriptedRun(request);
            Started.Writer.TryWrite(run);
            return run;
        }
    }

    private sealed class ScriptedRun(GenerateRequest request) : IGeneration
    {
        private readonly Channel<TokenEvent> _tokens = Channel.CreateUnbounded<TokenEvent>();
        private readonly TaskCompletionSource<GenerateResponse> _summary = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public GenerateRequest Request { get; } = request;

        public TaskCompletionSource Cancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ChannelReader<TokenEvent> Tokens => _tokens.Reader;

        public Task<GenerateResponse> Summary => _summary.Task;

        public void Cancel() => Cancelled.TrySetResult();

        public void Emit(TokenEvent token) => _tokens.Writer.TryWrite(token);

        public void Finish(string reason)
        {
            _tokens.Writer.TryComplete();
            _summary.TrySetResult(new GenerateResponse("lm", reason, 2, 2, 1, 100, 50, 5));
        }

        public void Fail(Exception error)
        {
            _tokens.Writer.TryComplete(error);
            _summary.TrySetException(error);
        }
    }
}
