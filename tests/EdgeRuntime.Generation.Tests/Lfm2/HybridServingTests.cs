using EdgeRuntime.Generation.Decoding;
using EdgeRuntime.Generation.Engine;
using EdgeRuntime.Generation.Folder;
using EdgeRuntime.Protocol;
using EdgeRuntime.TestModels.Language;

namespace EdgeRuntime.Generation.Tests.Lfm2;

/// <summary>
/// A hybrid model served by the generation engine like any other: sessions batched together, moved between slots,
/// slots reused by new sessions, kept sessions continued. Each answer must be the greedy continuation the decoder
/// gives that session alone (itself checked against PyTorch in <see cref="Lfm2TorchReferenceTests"/>). Each test runs on
/// the dynamic graph and on the static-shape NPU export (a 16-token prefill graph and a one-token decode graph).
/// </summary>
public sealed class HybridServingTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private readonly TempFolder _folder = new();
    private readonly LanguageModelConfig _config;

    public HybridServingTests()
    {
        _config = SeededLfm2.WriteFolder(_folder.File("dynamic"), SeededLfm2.Tiny(contextLength: 64));
        SeededLfm2.WriteFolder(_folder.File("static"), StaticExportTests.Static(SeededLfm2.Tiny(contextLength: 64)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Concurrent_sessions_in_fewer_slots_each_get_the_answer_they_get_alone(bool staticShapes)
    {
        string[] prompts = ["A", "Bee", "Seven words", "zz", "conv state"];
        var expected = prompts.Select(p => Greedy(staticShapes, PromptTokens(p), 8)).ToArray();

        // Two slots for five requests: batches of two, slots handed from finished sessions to new ones.
        using var model = LanguageModel.Load("hybrid", Folder(staticShapes), new GenerationOptions { IntraOpThreads = 1, MaxBatch = 2, Sessions = 2 });
        var runs = prompts.Select(p => model.Start(new GenerateRequest("hybrid") { Prompt = p, MaxTokens = 8, StopTokenIds = [] })).ToArray();
        var results = await Task.WhenAll(runs.Select(Collect));
        for (int i = 0; i < prompts.Length; i++)
        {
            Assert.Equal(expected[i], results[i]);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_kept_session_continues_from_its_conv_state_exactly_as_one_long_prompt_would(bool staticShapes)
    {
        using var model = LanguageModel.Load("hybrid", Folder(staticShapes), new GenerationOptions { IntraOpThreads = 1, Sessions = 2 });
        var first = model.Start(new GenerateRequest("hybrid") { Prompt = "Hi", MaxTokens = 4, Keep = true, StopTokenIds = [] });
        var firstTokens = await Collect(first);
        var firstSummary = await first.Summary.WaitAsync(Timeout);

        // Another session runs in between, in the other slot, and the kept one may be moved for its batch.
        var other = model.Start(new GenerateRequest("hybrid") { Prompt = "Other", MaxTokens = 3, StopTokenIds = [] });
        await Collect(other);

        var second = model.Start(new GenerateRequest("hybrid") { Prompt = " there", MaxTokens = 5, Session = firstSummary.Session, StopTokenIds = [] });
        var secondTokens = await Collect(second);
        int[] whole = [.. PromptTokens("Hi"), .. firstTokens, .. " there"u8.ToArray().Select(b => (int)b)];
        Assert.Equal(Greedy(staticShapes, whole, 5), secondTokens);
        Assert.True(model.EndSession(firstSummary.Session!));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_state_a_session_holds_counts_the_attention_layers_cache_and_the_conv_state(bool staticShapes)
    {
        using var model = LanguageModel.Load("hybrid", Folder(staticShapes), new GenerationOptions { IntraOpThreads = 1, Sessions = 2 });

        // 1 attention layer × 2 KV heads × 16 × 64 positions × 2 (key, value) + 3 conv layers × 64 channels × 2 columns, in floats.
        long perSession = ((1L * 2 * 16 * 64 * 2) + (3L * 64 * 2)) * sizeof(float);
        Assert.Equal(perSession, model.SessionStateBytes);
        Assert.Equal(perSession * 3, model.CacheBytes); // two sessions and the spare slot
    }

    public void Dispose() => _folder.Dispose();

    private string Folder(bool staticShapes) => _folder.File(staticShapes ? "static" : "dynamic");

    private int[] PromptTokens(string text) => [_config.BosTokenId!.Value, .. System.Text.Encoding.UTF8.GetBytes(text).Select(b => (int)b)];

    /// <summary>The decoder's greedy continuation for one session alone, stopping at an end token as the engine does.</summary>
    private int[] Greedy(bool staticShapes, int[] prompt, int count)
    {
        using var decoder = DecoderModel.Load(LanguageModelFolder.Open(Folder(staticShapes)), new DecoderOptions { Slots = 1, IntraOpThreads = 1 });
        var logits = decoder.Step([.. prompt.Select(t => (long)t)], 1, prompt.Length, [prompt.Length], 0).ToArray();
        var tokens = new List<int>();
        for (int i = 0; i < count; i++)
        {
            int next = Array.IndexOf(logits, logits.Max());
            if (_config.EosTokenIds.Contains(next))
            {
                break;
            }

            tokens.Add(next);
            logits = decoder.Step([next], 1, 1, [prompt.Length + i + 1], 0).ToArray();
        }

        return [.. tokens];
    }

    private static async Task<int[]> Collect(GenerationRun run)
    {
        var ids = new List<int>();
        using var timeout = new CancellationTokenSource(Timeout);
        await foreach (var token in run.Tokens.ReadAllAsync(timeout.Token))
        {
            ids.Add(token.Id);
        }

        return [.. ids];
    }
}
