using System.Net;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Http.Tests;

/// <summary>What an OpenAI request becomes on its way to the engine: the GenerateRequest the scripted service receives.</summary>
public sealed class RequestMappingTests : IAsyncLifetime
{
    private HttpHarness _http = null!;

    public async Task InitializeAsync() => _http = await HttpHarness.StartAsync();

    public async Task DisposeAsync() => await _http.DisposeAsync();

    [Fact]
    public async Task Sampling_fields_and_their_extensions_reach_the_engine()
    {
        var request = await StartedAsync("/v1/chat/completions", """
            {"model":"lm","messages":[{"role":"user","content":"Hi"}],"temperature":0.7,"top_p":0.9,"top_k":40,"min_p":0.05,
             "repetition_penalty":1.1,"seed":42,"max_completion_tokens":12,"stop_token_ids":[7,8],"frequency_penalty":0,"presence_penalty":0,
             "n":1,"logit_bias":{},"user":"someone","tool_choice":"none","response_format":{"type":"text"}}
            """);

        Assert.Equal("lm", request.Model);
        Assert.Equal(12, request.MaxTokens);
        Assert.Equal(new SamplingSpec { Temperature = 0.7f, TopP = 0.9f, TopK = 40, MinP = 0.05f, RepetitionPenalty = 1.1f, Seed = 42 }, request.Sampling);
        Assert.Equal([7, 8], request.StopTokenIds!);
        Assert.Null(request.Stop);
        Assert.False(request.Keep);
        Assert.Null(request.Session);
    }

    [Fact]
    public async Task No_sampling_field_leaves_the_engine_its_default()
    {
        var request = await StartedAsync("/v1/completions", """{"model":"lm","prompt":"x"}""");
        Assert.Null(request.Sampling);
        Assert.Null(request.MaxTokens);
    }

    [Fact]
    public async Task A_negative_seed_keeps_its_bits()
    {
        var request = await StartedAsync("/v1/completions", """{"model":"lm","prompt":"x","seed":-1}""");
        Assert.Equal(ulong.MaxValue, request.Sampling!.Seed);
    }

    [Fact]
    public async Task A_stop_string_and_a_stop_array_are_both_stop_strings()
    {
        var single = await StartedAsync("/v1/completions", """{"model":"lm","prompt":"x","stop":"\n\n"}""");
        var several = await StartedAsync("/v1/chat/completions", """{"model":"lm","messages":[{"role":"user","content":"x"}],"stop":["END","###"]}""");
        Assert.Equal(["\n\n"], single.Stop!);
        Assert.Equal(["END", "###"], several.Stop!);
    }

    [Fact]
    public async Task Max_tokens_is_the_older_name_of_max_completion_tokens()
    {
        var request = await StartedAsync("/v1/chat/completions", """{"model":"lm","messages":[{"role":"user","content":"x"}],"max_tokens":9}""");
        Assert.Equal(9, request.MaxTokens);
    }

    [Fact]
    public async Task Messages_keep_their_order_developer_is_system_and_text_parts_are_joined()
    {
        var request = await StartedAsync("/v1/chat/completions", """
            {"model":"lm","messages":[
              {"role":"developer","content":"Be brief."},
              {"role":"user","content":[{"type":"text","text":"Line one"},{"type":"text","text":"line two"}]},
              {"role":"assistant","content":"Sure."},
              {"role":"user","content":"Go"}]}
            """);

        Assert.Null(request.Prompt);
        Assert.Equal(
            [new ChatMessage("system", "Be brief."), new ChatMessage("user", "Line one\nline two"), new ChatMessage("assistant", "Sure."), new ChatMessage("user", "Go")],
            request.Messages!);
    }

    [Theory]
    [InlineData("/v1/chat/completions", """{"model":"lm","messages":[{"role":"user","content":"x"}],"n":2}""", "n")]
    [InlineData("/v1/completions", """{"model":"lm","prompt":"x","n":3}""", "n")]
    [InlineData("/v1/chat/completions", """{"messages":[{"role":"user","content":"x"}]}""", "model")]
    [InlineData("/v1/chat/completions", """{"model":"lm"}""", "messages")]
    [InlineData("/v1/chat/completions", """{"model":"lm","messages":[]}""", "messages")]
    [InlineData("/v1/chat/completions", """{"model":"lm","messages":[{"role":"user"}]}""", "messages[0].content")]
    [InlineData("/v1/chat/completions", """{"model":"lm","messages":[{"content":"x"}]}""", "messages[0].role")]
    [InlineData("/v1/chat/completions", """{"model":"lm","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}""", "messages[0].content[0]")]
    [InlineData("/v1/chat/completions", """{"model":"lm","messages":[{"role":"user","content":"x"}],"frequency_penalty":0.5}""", "frequency_penalty")]
    [InlineData("/v1/chat/completions", """{"model":"lm","messages":[{"role":"user","content":"x"}],"presence_penalty":-1}""", "presence_penalty")]
    [InlineData("/v1/chat/completions", """{"model":"lm","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}]}""", "tools")]
    [InlineData("/v1/chat/completions", """{"model":"lm","messages":[{"role":"user","content":"x"}],"tool_choice":"auto"}""", "tool_choice")]
    [InlineData("/v1/chat/completions", """{"model":"lm","messages":[{"role":"user","content":"x"}],"logprobs":true}""", "logprobs")]
    [InlineData("/v1/chat/completions", """{"model":"lm","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_object"}}""", "response_format")]
    [InlineData("/v1/chat/completions", """{"model":"lm","messages":[{"role":"user","content":"x"}],"logit_bias":{"50256":-100}}""", "logit_bias")]
    [InlineData("/v1/chat/completions", """{"model":"lm","messages":[{"role":"user","content":"x"}],"max_tokens":5,"max_completion_tokens":6}""", "max_completion_tokens")]
    [InlineData("/v1/chat/completions", """{"model":"lm","messages":[{"role":"user","content":"x"}],"max_tokens":0}""", "max_tokens")]
    [InlineData("/v1/chat/completions", """{"model":"lm","messages":[{"role":"user","content":"x"}],"stop":[1,2]}""", "stop")]
    [InlineData("/v1/chat/completions", """{"model":"lm","messages":[{"role":"user","content":"x"}],"stop":""}""", "stop")]
    [InlineData("/v1/completions", """{"model":"lm"}""", "prompt")]
    [InlineData("/v1/completions", """{"model":"lm","prompt":[1,2,3]}""", "prompt")]
    [InlineData("/v1/completions", """{"model":"lm","prompt":["a","b"]}""", "prompt")]
    [InlineData("/v1/completions", """{"model":"lm","prompt":"x","echo":true}""", "echo")]
    [InlineData("/v1/completions", """{"model":"lm","prompt":"x","suffix":"y"}""", "suffix")]
    [InlineData("/v1/completions", """{"model":"lm","prompt":"x","best_of":2}""", "best_of")]
    [InlineData("/v1/completions", """{"model":"lm","prompt":"x","logprobs":5}""", "logprobs")]
    public async Task What_edged_cannot_honour_is_refused_with_a_400_naming_the_field(string path, string body, string param)
    {
        using var response = await _http.PostAsync(path, body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = (await HttpHarness.JsonAsync(response)).GetProperty("error");
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Equal(ErrorCodes.BadRequest, error.GetProperty("code").GetString());
        Assert.Equal(param, error.GetProperty("param").GetString());
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        Assert.False(_http.Generation.Started.Reader.TryRead(out _), "a refused request must not start a generation");
    }

    private async Task<GenerateRequest> StartedAsync(string path, string body)
    {
        var answer = _http.PostAsync(path, body);
        var run = await _http.Generation.NextAsync();
        run.Emit("ok").Finish(StopReasons.EndOfSequence);
        using var response = await answer;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return run.Request;
    }
}
