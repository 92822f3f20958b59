using System.Net;
using System.Text.Json;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Http.Tests;

/// <summary>POST /v1/chat/completions answered whole and streamed, in OpenAI's shapes.</summary>
public sealed class ChatCompletionTests : IAsyncLifetime
{
    private HttpHarness _http = null!;

    public async Task InitializeAsync() => _http = await HttpHarness.StartAsync();

    public async Task DisposeAsync() => await _http.DisposeAsync();

    [Fact]
    public async Task A_chat_is_answered_as_a_chat_completion_with_usage()
    {
        using var response = await _http.PostScriptedAsync(
            "/v1/chat/completions",
            """{"model":"lm","messages":[{"role":"user","content":"Hi"}]}""",
            run => run.Emit("Hel", "lo", "!").Finish(StopReasons.EndOfSequence, promptTokens: 7));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var json = await HttpHarness.JsonAsync(response);
        Assert.StartsWith("chatcmpl-", json.GetProperty("id").GetString(), StringComparison.Ordinal);
        Assert.Equal("chat.completion", json.GetProperty("object").GetString());
        Assert.Equal(HttpHarness.Now.ToUnixTimeSeconds(), json.GetProperty("created").GetInt64());
        Assert.Equal("lm", json.GetProperty("model").GetString());
        var choice = Assert.Single(json.GetProperty("choices").EnumerateArray());
        Assert.Equal(0, choice.GetProperty("index").GetInt32());
        Assert.Equal("assistant", choice.GetProperty("message").GetProperty("role").GetString());
        Assert.Equal("Hello!", choice.GetProperty("message").GetProperty("content").GetString());
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
        Assert.Equal(JsonValueKind.Null, choice.GetProperty("logprobs").ValueKind);
        var usage = json.GetProperty("usage");

        // Read by people too (curl): id and object lead, as in OpenAI's answers.
        Assert.StartsWith("{\"id\":\"chatcmpl-", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(["id", "object", "created", "model", "choices", "usage"], json.EnumerateObject().Select(p => p.Name));
        Assert.Equal((7, 3, 10), (usage.GetProperty("prompt_tokens").GetInt32(), usage.GetProperty("completion_tokens").GetInt32(), usage.GetProperty("total_tokens").GetInt32()));
    }

    [Theory]
    [InlineData(StopReasons.EndOfSequence, "stop")]
    [InlineData(StopReasons.StopToken, "stop")]
    [InlineData(StopReasons.StopString, "stop")]
    [InlineData(StopReasons.MaxTokens, "length")]
    [InlineData(StopReasons.ContextFull, "length")]
    public async Task Stop_reasons_become_openai_finish_reasons(string stopReason, string finishReason)
    {
        using var response = await _http.PostScriptedAsync(
            "/v1/chat/completions",
            """{"model":"lm","messages":[{"role":"user","content":"Hi"}]}""",
            run => run.Emit("x").Finish(stopReason));

        var json = await HttpHarness.JsonAsync(response);
        Assert.Equal(finishReason, json.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task A_streamed_chat_sends_the_role_then_each_piece_then_the_finish_reason_then_done()
    {
        using var response = await _http.PostScriptedAsync(
            "/v1/chat/completions",
            """{"model":"lm","messages":[{"role":"user","content":"Hi"}],"stream":true}""",
            run => run.Emit("Hel", "", "lo").Finish(StopReasons.MaxTokens));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var events = await HttpHarness.EventsAsync(response);
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e).RootElement).ToList();

        // The role, "Hel", "lo" (the empty piece of a split character sends nothing), the finish reason.
        Assert.Equal(4, chunks.Count);
        Assert.All(chunks, c => Assert.Equal("chat.completion.chunk", c.GetProperty("object").GetString()));
        Assert.Single(chunks.Select(c => c.GetProperty("id").GetString()).Distinct());
        Assert.StartsWith("chatcmpl-", chunks[0].GetProperty("id").GetString(), StringComparison.Ordinal);
        var deltas = chunks.Select(c => c.GetProperty("choices")[0].GetProperty("delta")).ToList();
        Assert.Equal("assistant", deltas[0].GetProperty("role").GetString());
        Assert.All(deltas.Skip(1), d => Assert.False(d.TryGetProperty("role", out _)));
        Assert.Equal(["", "Hel", "lo"], deltas.Take(3).Select(d => d.GetProperty("content").GetString()));
        Assert.Empty(deltas[3].EnumerateObject());
        var finishReasons = chunks.Select(c => c.GetProperty("choices")[0].GetProperty("finish_reason")).ToList();
        Assert.All(finishReasons.Take(3), f => Assert.Equal(JsonValueKind.Null, f.ValueKind));
        Assert.Equal("length", finishReasons[3].GetString());
        Assert.All(chunks, c => Assert.False(c.TryGetProperty("usage", out _)));
    }

    [Fact]
    public async Task A_stream_with_include_usage_ends_with_a_usage_chunk_without_choices()
    {
        using var response = await _http.PostScriptedAsync(
            "/v1/chat/completions",
            """{"model":"lm","messages":[{"role":"user","content":"Hi"}],"stream":true,"stream_options":{"include_usage":true}}""",
            run => run.Emit("a", "b").Finish(StopReasons.EndOfSequence, promptTokens: 4));

        var events = await HttpHarness.EventsAsync(response);
        Assert.Equal("[DONE]", events[^1]);
        var usageChunk = JsonDocument.Parse(events[^2]).RootElement;
        Assert.Equal(0, usageChunk.GetProperty("choices").GetArrayLength());
        Assert.Equal(6, usageChunk.GetProperty("usage").GetProperty("total_tokens").GetInt32());
        Assert.Equal("stop", JsonDocument.Parse(events[^3]).RootElement.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task Text_outside_ascii_is_sent_as_utf8_and_survives_the_round_trip()
    {
        using var response = await _http.PostScriptedAsync(
            "/v1/chat/completions",
            """{"model":"lm","messages":[{"role":"user","content":"Hi"}],"stream":true}""",
            run => run.Emit("Grüß ", "日本", "\n\"ok\"").Finish(StopReasons.EndOfSequence));

        var events = await HttpHarness.EventsAsync(response);
        Assert.Contains("Grüß", events[1], StringComparison.Ordinal);
        Assert.Contains("日本", events[2], StringComparison.Ordinal);
        string text = string.Concat(events[1..^2].Select(e => JsonDocument.Parse(e).RootElement.GetProperty("choices")[0].GetProperty("delta").GetProperty("content").GetString()));
        Assert.Equal("Grüß 日本\n\"ok\"", text);
    }
}
