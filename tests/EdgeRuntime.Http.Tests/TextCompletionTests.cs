using System.Net;
using System.Text.Json;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Http.Tests;

/// <summary>POST /v1/completions: text_completion objects, whole and streamed.</summary>
public sealed class TextCompletionTests : IAsyncLifetime
{
    private HttpHarness _http = null!;

    public async Task InitializeAsync() => _http = await HttpHarness.StartAsync();

    public async Task DisposeAsync() => await _http.DisposeAsync();

    [Fact]
    public async Task A_prompt_is_answered_as_a_text_completion()
    {
        ScriptedRun? started = null;
        using var response = await _http.PostScriptedAsync(
            "/v1/completions",
            """{"model":"lm","prompt":"Once upon","max_tokens":2}""",
            run => (started = run).Emit(" a", " time").Finish(StopReasons.MaxTokens, promptTokens: 3));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Once upon", started!.Request.Prompt);
        Assert.Null(started.Request.Messages);
        Assert.Equal(2, started.Request.MaxTokens);
        var json = await HttpHarness.JsonAsync(response);
        Assert.StartsWith("cmpl-", json.GetProperty("id").GetString(), StringComparison.Ordinal);
        Assert.Equal("text_completion", json.GetProperty("object").GetString());
        Assert.Equal(HttpHarness.Now.ToUnixTimeSeconds(), json.GetProperty("created").GetInt64());
        Assert.Equal("lm", json.GetProperty("model").GetString());
        var choice = Assert.Single(json.GetProperty("choices").EnumerateArray());
        Assert.Equal(" a time", choice.GetProperty("text").GetString());
        Assert.Equal(0, choice.GetProperty("index").GetInt32());
        Assert.Equal("length", choice.GetProperty("finish_reason").GetString());
        Assert.Equal(5, json.GetProperty("usage").GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public async Task A_prompt_given_as_an_array_of_one_string_is_that_string()
    {
        ScriptedRun? started = null;
        using var response = await _http.PostScriptedAsync(
            "/v1/completions",
            """{"model":"lm","prompt":["Hello"]}""",
            run => (started = run).Emit("!").Finish(StopReasons.EndOfSequence));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Hello", started!.Request.Prompt);
    }

    [Fact]
    public async Task A_streamed_completion_sends_one_chunk_per_piece_then_the_finish_reason_then_done()
    {
        using var response = await _http.PostScriptedAsync(
            "/v1/completions",
            """{"model":"lm","prompt":"Once","stream":true,"stream_options":{"include_usage":true}}""",
            run => run.Emit(" upon", " a").Finish(StopReasons.StopString, promptTokens: 1));

        var events = await HttpHarness.EventsAsync(response);
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e).RootElement).ToList();
        Assert.Equal(4, chunks.Count);
        Assert.All(chunks, c => Assert.Equal("text_completion", c.GetProperty("object").GetString()));
        Assert.Single(chunks.Select(c => c.GetProperty("id").GetString()).Distinct());
        Assert.Equal([" upon", " a", ""], chunks.Take(3).Select(c => c.GetProperty("choices")[0].GetProperty("text").GetString()));
        Assert.Equal(JsonValueKind.Null, chunks[0].GetProperty("choices")[0].GetProperty("finish_reason").ValueKind);
        Assert.Equal("stop", chunks[2].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal(0, chunks[3].GetProperty("choices").GetArrayLength());
        Assert.Equal(3, chunks[3].GetProperty("usage").GetProperty("total_tokens").GetInt32());
    }
}
