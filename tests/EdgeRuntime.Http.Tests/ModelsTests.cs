using System.Net;

namespace EdgeRuntime.Http.Tests;

/// <summary>GET /v1/models and /v1/models/{id}: the loaded language models in OpenAI's list shape.</summary>
public sealed class ModelsTests : IAsyncLifetime
{
    private HttpHarness _http = null!;

    public async Task InitializeAsync() => _http = await HttpHarness.StartAsync();

    public async Task DisposeAsync() => await _http.DisposeAsync();

    [Fact]
    public async Task The_list_holds_each_loaded_language_model()
    {
        using var response = await _http.Client.GetAsync("/v1/models");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var json = await HttpHarness.JsonAsync(response);
        Assert.Equal("list", json.GetProperty("object").GetString());
        var model = Assert.Single(json.GetProperty("data").EnumerateArray());
        Assert.Equal("lm", model.GetProperty("id").GetString());
        Assert.Equal("model", model.GetProperty("object").GetString());
        Assert.Equal(ScriptedGenerationServices.LoadedAt.ToUnixTimeSeconds(), model.GetProperty("created").GetInt64());
        Assert.Equal("edged", model.GetProperty("owned_by").GetString());
        Assert.Equal(2048, model.GetProperty("context_length").GetInt32());
    }

    [Fact]
    public async Task One_model_is_described_by_its_id_and_an_unknown_one_is_a_404()
    {
        using var found = await _http.Client.GetAsync("/v1/models/lm");
        using var missing = await _http.Client.GetAsync("/v1/models/nope");

        Assert.Equal(HttpStatusCode.OK, found.StatusCode);
        Assert.Equal("lm", (await HttpHarness.JsonAsync(found)).GetProperty("id").GetString());
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("not_found_error", (await HttpHarness.JsonAsync(missing)).GetProperty("error").GetProperty("type").GetString());
    }
}
