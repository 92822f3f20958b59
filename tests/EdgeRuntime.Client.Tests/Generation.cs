using System.Globalization;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Client.Tests;

/// <summary>The frames edged sends in answer to a generate, as the generation tests script them.</summary>
internal static class Generation
{
    public static byte[] Token(ScriptedServer.Request generate, int index, string text, int id = 100) =>
        ScriptedServer.Frame(MessageType.Token, FrameFlags.Response, generate.Id, string.Create(CultureInfo.InvariantCulture, $$"""{"index":{{index}},"id":{{id + index}},"text":"{{text}}","atUs":{{1000 * (index + 1)}}.5}"""));

    public static byte[] Final(ScriptedServer.Request generate, string stopReason = "eos", int generated = 2, string? session = null) =>
        ScriptedServer.Answer(generate, string.Create(CultureInfo.InvariantCulture, $$"""
            {"model":"bitnet","stopReason":"{{stopReason}}","promptTokens":7,"generatedTokens":{{generated}},
             "timeToFirstTokenMs":85.5,"prefillTokensPerSecond":82.1,"decodeTokensPerSecond":14.25,"totalMs":160.25,
             {{(session is null ? "" : $"\"session\":\"{session}\",")}}"cachedTokens":3,"contextUsed":12,"contextLength":4096}
            """));

    public static GenerateRequest Parse(ScriptedServer.Request request)
    {
        Assert.Equal(MessageType.Generate, request.Header.Type);
        return ProtocolJson.Deserialize(request.Json, ProtocolJsonContext.Default.GenerateRequest);
    }

    /// <summary>The next frame must be a cancel naming <paramref name="generate"/>'s request id.</summary>
    public static async Task<ScriptedServer.Request> ExpectCancelAsync(ScriptedServer server, ScriptedServer.Request generate)
    {
        var cancel = await server.ReadAsync();
        Assert.Equal(MessageType.Cancel, cancel.Header.Type);
        Assert.Equal(generate.Id, ProtocolJson.Deserialize(cancel.Json, ProtocolJsonContext.Default.CancelRequest).RequestId);
        return cancel;
    }

    public static byte[] CancelAnswer(ScriptedServer.Request cancel, ScriptedServer.Request generate, bool cancelled = true) =>
        ScriptedServer.Answer(cancel, $$"""{"requestId":{{generate.Id}},"cancelled":{{(cancelled ? "true" : "false")}}}""");

    /// <summary>Every token of <paramref name="stream"/>, bounded by the tests' patience.</summary>
    public static async Task<List<TokenEvent>> ReadAllAsync(GenerationStream stream)
    {
        using var patience = new CancellationTokenSource(ScriptedServer.Patience);
        var tokens = new List<TokenEvent>();
        await foreach (var token in stream.WithCancellation(patience.Token))
        {
            tokens.Add(token);
        }

        return tokens;
    }
}
