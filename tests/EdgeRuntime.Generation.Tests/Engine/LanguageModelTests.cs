using EdgeRuntime.Generation.Engine;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Generation.Tests.Engine;

public sealed class LanguageModelTests(TinyModel tiny) : IClassFixture<TinyModel>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Greedy_generation_streams_the_references_tokens_and_sums_them_up()
    {
        using var model = tiny.Load();
        double before = System.Diagnostics.Stopwatch.GetTimestamp() * (1e6 / System.Diagnostics.Stopwatch.Frequency);
        var run = model.Start(new GenerateRequest("tiny") { Prompt = "Hello", MaxTokens = 12 });
        var events = await Collect(run);
        double after = System.Diagnostics.Stopwatch.GetTimestamp() * (1e6 / System.Diagnostics.Stopwatch.Frequency);

        // Each token is stamped on the monotonic clock when sampled: in order, inside the call.
        var clocks = events.Select(e => e.ClockUs!.Value).ToArray();
        Assert.All(clocks, c => Assert.InRange(c, before, after));
        Assert.Equal(clocks.Order(), clocks);
        var summary = await run.Summary.WaitAsync(Timeout);

        int[] expected = tiny.Greedy(tiny.PromptTokens("Hello"), 12);
        int end = Array.FindIndex(expected, t => tiny.Config.EosTokenIds.Contains(t));
        int[] sent = end < 0 ? expected : expected[..end];
        Assert.Equal(sent, events.Select(e => e.Id));
        Assert.Equal(Enumerable.Range(0, sent.Length), events.Select(e => e.Index));
        Assert.Equal(6, summary.PromptTokens);
        Assert.Equal(sent.Length, summary.GeneratedTokens);
        Assert.Equal(end < 0 ? StopReasons.MaxTokens : StopReasons.EndOfSequence, summary.StopReason);
        Assert.True(summary.TimeToFirstTokenMs > 0 && summary.TotalMs >= summary.TimeToFirstTokenMs);
        Assert.Null(summary.Session);
        Assert.Equal(new GenerationLoad(0, 0, 0), model.Load());
    }

    [Fact]
    public async Task The_same_seed_gives_the_same_text_and_another_seed_other_text()
    {
        using var model = tiny.Load();
        async Task<int[]> Sample(ulong seed)
        {
            var run = model.Start(new GenerateRequest("tiny") { Prompt = "Once", MaxTokens = 24, Sampling = new SamplingSpec { Temperature = 1.2f, TopP = 0.95f, Seed = seed } });
            return [.. (await Collect(run)).Select(e => e.Id)];
        }

        var first = await Sample(11);
        Assert.Equal(first, await Sample(11));
        Assert.NotEqual(first, await Sample(12));
    }

    [Fact]
    public async Task A_kept_session_continues_from_its_cache_exactly_as_one_long_prompt_would()
    {
        using var model = tiny.Load();
        var first = model.Start(new GenerateRequest("tiny") { Prompt = "Hi", MaxTokens = 4, Keep = true, StopTokenIds = [] });
        var firstTokens = (await Collect(first)).Select(e => e.Id).ToArray();
        var firstSummary = await first.Summary.WaitAsync(Timeout);
        Assert.NotNull(firstSummary.Session);

        var second = model.Start(new GenerateRequest("tiny") { Prompt = " there", MaxTokens = 5, Session = firstSummary.Session });
        var secondTokens = (await Collect(second)).Select(e => e.Id).ToArray();
        var secondSummary = await second.Summary.WaitAsync(Timeout);

        // The first turn's tokens are already in the cache: only its last sampled token and " there" are prefilled.
        Assert.Equal(firstSummary.ContextUsed, secondSummary.CachedTokens);
        Assert.Equal(1 + 6, secondSummary.PromptTokens);
        int[] whole = [.. tiny.PromptTokens("Hi"), .. firstTokens, .. " there"u8.ToArray().Select(b => (int)b)];
        var expected = tiny.Greedy(whole, 5);
        Assert.Equal(expected.TakeWhile(t => !tiny.Config.EosTokenIds.Contains(t)), secondTokens);
        Assert.True(model.EndSession(firstSummary.Session!));
        Assert.Equal(new GenerationLoad(0, 0, 0), model.Load());
    }

    [Fact]
    public async Task Concurrent_sessions_decode_in_one_batch_and_each_gets_its_own_answer()
    {
        string[] prompts = ["A", "Bee", "Seven words", "zz"];
        var expected = prompts.Select(p => tiny.Greedy(tiny.PromptTokens(p), 10)).ToArray();
        using var model = tiny.Load(new GenerationOptions { IntraOpThreads = 1, MaxBatch = 4, Sessions = 4 });
        var runs = prompts.Select(p => model.Start(new GenerateRequest("tiny") { Prompt = p, MaxTokens = 10 })).ToArray();
        var results = await Task.WhenAll(runs.Select(Collect));
        for (int i = 0; i < prompts.Length; i++)
        {
            Assert.Equal(expected[i].TakeWhile(t => !tiny.Config.EosTokenIds.Contains(t)), results[i].Select(e => e.Id));
        }
    }

    [Fact]
    public async Task Cancelling_ends_the_run_and_frees_its_session_at_once()
    {
        using var model = tiny.Load(new GenerationOptions { IntraOpThreads = 1, DefaultMaxTokens = 50 });
        var run = model.Start(new GenerateRequest("tiny") { Prompt = "Go", StopTokenIds = [], Sampling = new SamplingSpec { Temperature = 1, Seed = 1 } });

        // The loop checks for cancellation before every step, so a run cancelled at once ends within its first step
        // (its prefill and at most one decode), long before its 50 tokens.
        run.Cancel();
        var events = await Collect(run);
        var summary = await run.Summary.WaitAsync(Timeout);
        Assert.True(summary.StopReason == StopReasons.Cancelled || (summary.StopReason == StopReasons.EndOfSequence && events.Count < 2), summary.StopReason);
        Assert.True(events.Count <= 2, $"{events.Count} tokens after a cancel");
        Assert.Equal(new GenerationLoad(0, 0, 0), model.Load());
    }

    [Fact]
    public async Task Stop_strings_are_never_sent_and_end_the_run()
    {
        using var model = tiny.Load();
        var free = model.Start(new GenerateRequest("tiny") { Prompt = "Hello", MaxTokens = 12 });
        var events = await Collect(free);
        string text = string.Concat(events.Select(e => e.Text));
        Assert.True(text.Length >= 3, "the tiny model's greedy text should be a few characters long");
        string stop = text.Substring(2, 1);

        var stopped = model.Start(new GenerateRequest("tiny") { Prompt = "Hello", MaxTokens = 12, Stop = [stop] });
        string until = string.Concat((await Collect(stopped)).Select(e => e.Text));
        Assert.Equal(text[..text.IndexOf(stop, StringComparison.Ordinal)], until);
        Assert.Equal(StopReasons.StopString, (await stopped.Summary).StopReason);
    }

    [Fact]
    public void Bad_requests_get_typed_errors_naming_the_problem()
    {
        using var model = tiny.Load();
        Assert.Equal(ErrorCodes.ContextOverflow, Code(new GenerateRequest("tiny") { Prompt = new string('x', 80) }));
        Assert.Equal(ErrorCodes.ContextOverflow, Code(new GenerateRequest("tiny") { Prompt = "short", MaxTokens = 60 }));
        Assert.Equal(ErrorCodes.UnknownSession, Code(new GenerateRequest("tiny") { Prompt = "x", Session = "s-nope" }));
        Assert.Equal(ErrorCodes.InvalidSampling, Code(new GenerateRequest("tiny") { Prompt = "x", Sampling = new SamplingSpec { TopP = 1.5f } }));
        Assert.Equal(ErrorCodes.InvalidPrompt, Code(new GenerateRequest("tiny") { Prompt = "bad \ud800 half" }));
        Assert.Equal(ErrorCodes.InvalidPrompt, Code(new GenerateRequest("tiny")));
        Assert.Equal(ErrorCodes.InvalidPrompt, Code(new GenerateRequest("tiny") { Prompt = "" , Keep = false }));
        Assert.Equal(ErrorCodes.BadRequest, Code(new GenerateRequest("tiny") { Prompt = "x", MaxTokens = 0 }));
        Assert.Equal(new GenerationLoad(0, 0, 0), model.Load());

        string Code(GenerateRequest request) => Assert.Throws<EdgeRuntimeException>(() => model.Start(request)).Code;
    }

    [Fact]
    public async Task When_every_slot_is_taken_the_least_recently_used_idle_session_is_evicted()
    {
        using var model = tiny.Load(new GenerationOptions { IntraOpThreads = 1, Sessions = 1, MaxBatch = 1 });
        var kept = model.Start(new GenerateRequest("tiny") { Prompt = "one", MaxTokens = 2, Keep = true });
        string session = (await kept.Summary.WaitAsync(Timeout)).Session!;
        var other = model.Start(new GenerateRequest("tiny") { Prompt = "two", MaxTokens = 2 });
        await other.Summary.WaitAsync(Timeout);

        var error = Assert.Throws<EdgeRuntimeException>(() => model.Start(new GenerateRequest("tiny") { Prompt = "again", Session = session }));
        Assert.Equal(ErrorCodes.UnknownSession, error.Code);
    }

    private static async Task<List<TokenEvent>> Collect(GenerationRun run)
    {
        var events = new List<TokenEvent>();
        using var timeout = new CancellationTokenSource(Timeout);
        await foreach (var token in run.Tokens.ReadAllAsync(timeout.Token))
        {
            events.Add(token);
        }

        return events;
    }
}
