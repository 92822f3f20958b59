using System.Text;
using EdgeRuntime.Client;
using EdgeRuntime.Protocol;
using EdgeRuntime.TestModels.Language;

namespace EdgeRuntime.Integration.Tests;

/// <summary>
/// Seeded language models served by the published edged: a BitNet b1.58 (generate over the socket, edgectl, bad input),
/// and LFM2 hybrids in each form the engine runs: our folder, GenAI's layout, the static-shape NPU export (W4A16 QDQ)
/// and DeltaAttention.
/// </summary>
public sealed class LanguageModelTests : IAsyncLifetime
{
    private EdgedProcess? _edged;
    private Generation.Folder.LanguageModelConfig? _config;

    private readonly Dictionary<string, string> _hybridFolders = [];

    private EdgedProcess Edged => _edged!;

    public async Task InitializeAsync()
    {
        string directory = EdgedProcess.Prepare(
            preload: """{ "name": "tiny", "path": "tiny" }, { "name": "add", "path": "add.onnx" }, { "name": "hybrid", "path": "hybrid" }, { "name": "genai", "path": "genai" }, { "name": "npu", "path": "npu" }, { "name": "delta", "path": "delta" }""",
            extraConfig: """ "generation": { "sessions": 2, "threads": 1 } """);
        _config = SeededBitNet.WriteFolder(Path.Combine(directory, "models", "tiny"), SeededBitNet.Tiny(contextLength: 64));

        // A hybrid (LFM2) folder of ours, and the same weights as ONNX Runtime GenAI's model builder lays a folder out.
        var hybrid = SeededLfm2.Tiny(contextLength: 64) with { ProjectionFormat = Generation.Folder.ProjectionFormats.Int4, ProjectionBlockSize = 32 };
        var weights = SeededLfm2.Weights(hybrid);
        foreach (string name in new[] { "hybrid", "genai", "npu", "delta" })
        {
            _hybridFolders[name] = Path.Combine(directory, "models", name);
        }

        SeededLfm2.WriteFolder(_hybridFolders["hybrid"], hybrid, weights);
        string tokenizer = Path.Combine(_hybridFolders["hybrid"], "tokenizer.json");
        Generation.Families.Lfm2.GenAiFolderWriter.Write(_hybridFolders["genai"], hybrid, weights, tokenizer);

        // The static-shape NPU export with QDQ projections, calibrated on seeded byte tokens; and DeltaAttention.
        var npu = hybrid with
        {
            ProjectionFormat = Generation.Folder.ProjectionFormats.Qdq,
            ProjectionBlockSize = 16,
            Static = new Generation.Folder.StaticShapes { PrefillChunk = 16, Capacity = 64 },
        };
        var random = new Random(3);
        long[][] calibration = [.. Enumerable.Range(0, 4).Select(_ => Enumerable.Range(0, 32).Select(_ => (long)random.Next(256)).ToArray())];
        var ranges = Generation.Families.Lfm2.ActivationCalibration.Run(npu, weights, tokenizer, calibration, Path.Combine(directory, "calibration"), threads: 1);
        SeededLfm2.WriteFolder(_hybridFolders["npu"], npu, weights, ranges);
        SeededLfm2.WriteFolder(_hybridFolders["delta"], hybrid with { DeltaAttention = new Generation.Folder.DeltaAttentionSettings { Window = 4, Threshold = 1 } }, weights);
        _edged = await EdgedProcess.StartInAsync(directory);
    }

    public async Task DisposeAsync()
    {
        if (_edged is not null)
        {
            await _edged.DisposeAsync();
        }
    }

    [Fact]
    public async Task Generate_streams_the_reference_models_greedy_tokens_through_the_native_daemon()
    {
        await using var client = await EdgeClient.ConnectAsync(Edged.SocketPath);
        await using var stream = await client.GenerateAsync(new GenerateRequest("tiny") { Prompt = "Hello", MaxTokens = 10 });
        var ids = new List<int>();
        await foreach (var token in stream)
        {
            ids.Add(token.Id);
        }

        var summary = await stream.Summary;
        var reference = new BitNetReference(_config!, SeededBitNet.Weights(_config!));
        var expected = reference.Greedy([_config!.BosTokenId!.Value, .. "Hello"u8.ToArray().Select(b => (int)b)], 10);
        Assert.Equal(expected.TakeWhile(t => !_config.EosTokenIds.Contains(t)), ids);
        Assert.Equal(6, summary.PromptTokens);
        Assert.Equal(ids.Count, summary.GeneratedTokens);
    }

    [Theory]
    [InlineData("hybrid")]
    [InlineData("genai")]
    [InlineData("npu")]
    [InlineData("delta")]
    public async Task Each_form_of_a_hybrid_model_streams_what_the_engine_gives_in_process(string name)
    {
        await using var client = await EdgeClient.ConnectAsync(Edged.SocketPath);
        var request = new GenerateRequest(name) { Prompt = "Hello, world", MaxTokens = 12 };
        await using var stream = await client.GenerateAsync(request);
        var ids = new List<int>();
        await foreach (var token in stream)
        {
            ids.Add(token.Id);
        }

        using var local = Generation.Engine.LanguageModel.Load(name, _hybridFolders[name], new Generation.Engine.GenerationOptions { IntraOpThreads = 1 });
        var run = local.Start(request);
        var expected = new List<int>();
        await foreach (var token in run.Tokens.ReadAllAsync())
        {
            expected.Add(token.Id);
        }

        Assert.NotEmpty(ids);
        Assert.Equal(expected, ids);
        var info = await client.InfoAsync(name);
        Assert.Equal(("lfm2", "3 conv + 1 attention"), (info.Family, info.Layers));
        Assert.Equal(name == "npu" ? "prefill 16 tokens, decode 1, cache 64" : null, info.StaticShapes);
        if (name == "delta")
        {
            Assert.StartsWith("DeltaAttention (window 4, threshold 1): ", info.Attention, StringComparison.Ordinal);
            Assert.Contains("of the decode steps' q·k work skipped so far", info.Attention, StringComparison.Ordinal);
        }
        else
        {
            Assert.Equal("grouped-query", info.Attention);
        }
    }

    [Fact]
    public async Task Edgectl_generate_prints_the_answer_then_the_summary_and_info_says_language()
    {
        var result = await Edged.EdgectlAsync("generate", "tiny", "Hello", "--max-tokens", "6", "--json");
        Assert.Equal(0, result.ExitCode);
        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var summary = ProtocolJson.Deserialize(Encoding.UTF8.GetBytes(lines[^1]), ProtocolJsonContext.Default.GenerateResponse);
        Assert.Equal(lines.Length - 1, summary.GeneratedTokens);
        Assert.Contains(summary.StopReason, new[] { StopReasons.MaxTokens, StopReasons.EndOfSequence });

        var info = await Edged.EdgectlAsync("info", "tiny");
        Assert.Equal(0, info.ExitCode);
        Assert.Contains("language", info.Stdout, StringComparison.Ordinal);
        Assert.Contains("64", info.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_kept_session_continues_and_an_unknown_one_is_refused()
    {
        await using var client = await EdgeClient.ConnectAsync(Edged.SocketPath);
        var first = await Run(client, new GenerateRequest("tiny") { Prompt = "Hi", MaxTokens = 3, Keep = true });
        Assert.NotNull(first.Session);
        var second = await Run(client, new GenerateRequest("tiny") { Prompt = " you", MaxTokens = 3, Session = first.Session });
        Assert.Equal(first.ContextUsed, second.CachedTokens);
        Assert.Equal(first.Session, second.Session);

        var error = await Assert.ThrowsAsync<EdgeRuntimeException>(() => Run(client, new GenerateRequest("tiny") { Prompt = "x", Session = "s-0000" }));
        Assert.Equal(ErrorCodes.UnknownSession, error.Code);
    }

    [Fact]
    public async Task Bad_input_gets_typed_errors_and_the_daemon_keeps_serving()
    {
        await using var client = await EdgeClient.ConnectAsync(Edged.SocketPath);
        async Task<string> Code(GenerateRequest request) => (await Assert.ThrowsAsync<EdgeRuntimeException>(() => Run(client, request))).Code;

        Assert.Equal(ErrorCodes.InvalidSampling, await Code(new GenerateRequest("tiny") { Prompt = "x", Sampling = new SamplingSpec { Temperature = -1 } }));
        Assert.Equal(ErrorCodes.InvalidSampling, await Code(new GenerateRequest("tiny") { Prompt = "x", Sampling = new SamplingSpec { TopP = 1.5f } }));
        Assert.Equal(ErrorCodes.ContextOverflow, await Code(new GenerateRequest("tiny") { Prompt = new string('a', 100) }));
        Assert.Equal(ErrorCodes.InvalidPrompt, await Code(new GenerateRequest("tiny") { Prompt = "" }));
        Assert.Equal(ErrorCodes.WrongModelKind, await Code(new GenerateRequest("add") { Prompt = "x" }));
        var infer = await Assert.ThrowsAsync<EdgeRuntimeException>(() => client.InferAsync("tiny", []));
        Assert.Equal(ErrorCodes.WrongModelKind, infer.Code);

        var fine = await Run(client, new GenerateRequest("tiny") { Prompt = "still here", MaxTokens = 2 });
        Assert.True(fine.GeneratedTokens > 0 || fine.StopReason == StopReasons.EndOfSequence);
    }

    [Fact]
    public async Task Truncated_or_corrupt_weights_are_refused_at_load_by_name()
    {
        string models = Edged.ModelDirectory;
        foreach (var (name, damage) in new (string, Action<string>)[]
        {
            ("truncated", path => { using var file = File.OpenWrite(path); file.SetLength(file.Length - 100); }),
            ("corrupt", path => { var bytes = File.ReadAllBytes(path); bytes[bytes.Length / 2] ^= 0x40; File.WriteAllBytes(path, bytes); }),
        })
        {
            SeededBitNet.WriteFolder(Path.Combine(models, name), SeededBitNet.Tiny(contextLength: 64));
            damage(Path.Combine(models, name, "weights.bin"));
            await using var client = await EdgeClient.ConnectAsync(Edged.SocketPath);
            var error = await Assert.ThrowsAsync<EdgeRuntimeException>(() => client.LoadAsync(name, name));
            Assert.Equal(ErrorCodes.ModelInvalid, error.Code);
            Assert.Contains("weights.bin", error.Message, StringComparison.Ordinal);
        }
    }

    private static async Task<GenerateResponse> Run(EdgeClient client, GenerateRequest request)
    {
        await using var stream = await client.GenerateAsync(request);
        await foreach (var _ in stream)
        {
        }

        return await stream.Summary;
    }
}
