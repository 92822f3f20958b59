using System.Net;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Http.Tests;

/// <summary>A client that goes away cancels its generation at once, so the engine frees the session.</summary>
public sealed class CancellationTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(15);
    private HttpHarness _http = null!;

    public async Task InitializeAsync() => _http = await HttpHarness.StartAsync();

    public async Task DisposeAsync() => await _http.DisposeAsync();

    [Fact]
    public async Task A_client_that_disconnects_mid_stream_cancels_the_generation()
    {
        using var client = _http.NewClient();
        using var abort = new CancellationTokenSource();
        using var response = await client.SendAsync(
            new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent("""{"model":"lm","messages":[{"role":"user","content":"Tell me a story"}],"stream":true}""") },
            HttpCompletionOption.ResponseHeadersRead);
        var run = await _http.Generation.NextAsync();
        run.Emit("Once");

        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        Assert.StartsWith("data: ", await reader.ReadLineAsync().WaitAsync(Patience), StringComparison.Ordinal); // the role
        Assert.Equal("", await reader.ReadLineAsync().WaitAsync(Patience));
        Assert.Contains("Once", await reader.ReadLineAsync().WaitAsync(Patience), StringComparison.Ordinal);
        Assert.False(run.Cancelled.Task.IsCompleted, "nothing cancels a stream its client still reads");

        // The client goes away mid-answer, as a closed browser tab or a killed script does.
        response.Dispose();
        client.Dispose();

        await run.Cancelled.Task.WaitAsync(Patience);
        run.Finish(StopReasons.Cancelled);
    }

    [Fact]
    public async Task A_client_that_gives_up_on_a_whole_answer_cancels_the_generation()
    {
        using var client = _http.NewClient();
        using var abort = new CancellationTokenSource();
        var answer = client.PostAsync("/v1/completions", new StringContent("""{"model":"lm","prompt":"x"}"""), abort.Token);
        var run = await _http.Generation.NextAsync();
        run.Emit("a", "b");

        await abort.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => answer);

        await run.Cancelled.Task.WaitAsync(Patience);
    }

    [Fact]
    public async Task A_generation_seen_to_its_end_is_not_cancelled()
    {
        ScriptedRun? started = null;
        using var response = await _http.PostScriptedAsync(
            "/v1/chat/completions",
            """{"model":"lm","messages":[{"role":"user","content":"Hi"}],"stream":true}""",
            run => (started = run).Emit("a").Finish(StopReasons.EndOfSequence));

        Assert.Equal("[DONE]", (await HttpHarness.EventsAsync(response))[^1]);
        Assert.False(started!.Cancelled.Task.IsCompleted);
    }

    [Fact]
    public async Task Stopping_the_server_closes_a_stream_that_outlives_the_shutdown_timeout_and_cancels_its_generation()
    {
        using var response = await _http.PostAsync(
            "/v1/chat/completions",
            """{"model":"lm","messages":[{"role":"user","content":"Hi"}],"stream":true}""",
            HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var run = await _http.Generation.NextAsync();

        // The harness's shutdown timeout is 2 s; the generation never finishes by itself.
        await _http.Server.StopAsync().WaitAsync(Patience);

        await run.Cancelled.Task.WaitAsync(Patience);
        Assert.False(File.Exists(_http.SocketPath));
    }
}
