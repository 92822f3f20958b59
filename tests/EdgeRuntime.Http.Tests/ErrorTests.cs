using System.Net;
using System.Text.Json;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Http.Tests;

/// <summary>Errors leave in OpenAI's shape {"error": {message, type, param, code}} with a status that says whose fault.</summary>
public sealed class ErrorTests : IAsyncLifetime
{
    private HttpHarness _http = null!;

    public async Task InitializeAsync() => _http = await HttpHarness.StartAsync(options => options with { MaxRequestBodyBytes = 4096 });

    public async Task DisposeAsync() => await _http.DisposeAsync();

    [Fact]
    public async Task An_unknown_model_is_a_404()
    {
        using var response = await _http.PostAsync("/v1/chat/completions", """{"model":"gpt-4o","messages":[{"role":"user","content":"Hi"}]}""");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        var error = (await HttpHarness.JsonAsync(response)).GetProperty("error");
        Assert.Equal("not_found_error", error.GetProperty("type").GetString());
        Assert.Equal(ErrorCodes.UnknownModel, error.GetProperty("code").GetString());
        Assert.Contains("gpt-4o", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"model":"lm","messages":""")]
    [InlineData("not json")]
    [InlineData("")]
    [InlineData("[]")]
    [InlineData("""{"model":"lm","messages":[{"role":"user","content":"x"}],"temperature":"hot"}""")]
    public async Task A_body_that_is_not_the_endpoints_json_is_a_400(string body)
    {
        using var response = await _http.PostAsync("/v1/chat/completions", body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = (await HttpHarness.JsonAsync(response)).GetProperty("error");
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Equal(ErrorCodes.BadRequest, error.GetProperty("code").GetString());
    }

    [Theory]
    [InlineData(ErrorCodes.InvalidSampling, HttpStatusCode.BadRequest, "invalid_request_error")]
    [InlineData(ErrorCodes.InvalidPrompt, HttpStatusCode.BadRequest, "invalid_request_error")]
    [InlineData(ErrorCodes.ContextOverflow, HttpStatusCode.BadRequest, "invalid_request_error")]
    [InlineData(ErrorCodes.Busy, HttpStatusCode.TooManyRequests, "rate_limit_error")]
    [InlineData(ErrorCodes.ShuttingDown, HttpStatusCode.ServiceUnavailable, "server_error")]
    [InlineData(ErrorCodes.InferenceFailed, HttpStatusCode.InternalServerError, "server_error")]
    public async Task The_engines_refusals_keep_their_code_and_get_a_fitting_status(string code, HttpStatusCode status, string type)
    {
        _http.Generation.Refusal = new EdgeRuntimeException(code, $"refused: {code}");
        using var response = await _http.PostAsync("/v1/completions", """{"model":"lm","prompt":"x"}""");

        Assert.Equal(status, response.StatusCode);
        var error = (await HttpHarness.JsonAsync(response)).GetProperty("error");
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.Equal(type, error.GetProperty("type").GetString());
        Assert.Equal($"refused: {code}", error.GetProperty("message").GetString());
        Assert.Equal(JsonValueKind.Null, error.GetProperty("param").ValueKind);
        Assert.Equal(status == HttpStatusCode.TooManyRequests, response.Headers.RetryAfter is not null);
    }

    [Fact]
    public async Task A_generation_that_fails_mid_stream_ends_the_stream_with_an_error_event_and_no_done()
    {
        using var response = await _http.PostScriptedAsync(
            "/v1/chat/completions",
            """{"model":"lm","messages":[{"role":"user","content":"Hi"}],"stream":true}""",
            run =>
            {
                run.Emit("par");
                run.Fail(new EdgeRuntimeException(ErrorCodes.ShuttingDown, "lm was unloaded."));
            });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var events = await HttpHarness.EventsAsync(response);
        Assert.DoesNotContain("[DONE]", events);
        var error = JsonDocument.Parse(events[^1]).RootElement.GetProperty("error");
        Assert.Equal(ErrorCodes.ShuttingDown, error.GetProperty("code").GetString());
        Assert.Equal("lm was unloaded.", error.GetProperty("message").GetString());
        Assert.Equal("par", JsonDocument.Parse(events[^2]).RootElement.GetProperty("choices")[0].GetProperty("delta").GetProperty("content").GetString());
    }

    [Fact]
    public async Task A_generation_that_fails_before_a_whole_answer_is_an_error_status()
    {
        using var response = await _http.PostScriptedAsync(
            "/v1/completions",
            """{"model":"lm","prompt":"x"}""",
            run => run.Emit("a").Fail(new EdgeRuntimeException(ErrorCodes.InferenceFailed, "ORT failed.")));

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal(ErrorCodes.InferenceFailed, (await HttpHarness.JsonAsync(response)).GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task A_body_over_the_limit_is_a_413()
    {
        string prompt = new('x', 8192);
        using var response = await _http.PostAsync("/v1/completions", $$"""{"model":"lm","prompt":"{{prompt}}"}""");

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("invalid_request_error", (await HttpHarness.JsonAsync(response)).GetProperty("error").GetProperty("type").GetString());
    }

    [Fact]
    public async Task An_unknown_path_is_a_404_in_the_same_shape()
    {
        using var response = await _http.PostAsync("/v1/embeddings", """{"model":"lm","input":"x"}""");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("/v1/embeddings", (await HttpHarness.JsonAsync(response)).GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
    }
}
