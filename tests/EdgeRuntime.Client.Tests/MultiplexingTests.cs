using EdgeRuntime.Formats;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Client.Tests;

/// <summary>Many requests share one connection; the daemon answers in any order and the client matches by request id.</summary>
public sealed class MultiplexingTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Answers_in_any_order_reach_the_request_that_asked(bool inlineContinuations)
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync(new EdgeClientOptions { InlineContinuations = inlineContinuations });

        string[] names = [.. Enumerable.Range(0, 8).Select(i => $"model-{i}")];
        var calls = names.Select(name => client.UnloadAsync(name)).ToArray();
        var requests = await server.ReadAsync(names.Length);

        // Odd requests first, then the even ones backwards: no order the client could match by position.
        // Each answer echoes the name its own request carried, so a mismatch shows up as a wrong name.
        var order = requests.Where((_, i) => i % 2 == 1).Concat(requests.Where((_, i) => i % 2 == 0).Reverse());
        foreach (var request in order)
        {
            string name = ProtocolJson.Deserialize(request.Json, ProtocolJsonContext.Default.NameRequest).Name;
            await server.ReplyAsync(request, $$"""{"name":"{{name}}","unloaded":true}""");
        }

        var answers = await Task.WhenAll(calls).WaitAsync(ScriptedServer.Patience);
        Assert.Equal(names, answers.Select(a => a.Name));
    }

    [Fact]
    public async Task Infer_answers_in_reverse_order_carry_each_requests_own_tensors()
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();

        float[][] inputs = [[1f, 2f], [10f, 20f], [100f, 200f]];
        var calls = inputs.Select(x => client.InferAsync("add", [Tensor.Float32("x", [2], x)])).ToArray();
        var requests = await server.ReadAsync(inputs.Length);

        // The scripted "model" adds 0.5 to the request's own input bytes: a payload answered to the wrong request
        // would show another request's values.
        foreach (var request in requests.Reverse())
        {
            float[] x = new Tensor("x", TensorDType.Float32, [2], request.Payload).ToArray<float>();
            byte[] y = Wire.Bytes(x[0] + 0.5f, x[1] + 0.5f);
            await server.ReplyAsync(request, """
                {"model":"add","outputs":[{"name":"y","dtype":"float32","shape":[2],"offset":0,"length":8}],
                 "timing":{"queuedUs":1,"inferenceUs":2,"totalUs":3}}
                """, y);
        }

        var results = await Task.WhenAll(calls).WaitAsync(ScriptedServer.Patience);
        for (int i = 0; i < inputs.Length; i++)
        {
            Assert.Equal([inputs[i][0] + 0.5f, inputs[i][1] + 0.5f], results[i]["y"].ToArray<float>());
        }
    }
}
