using System.Text.Unicode;
using EdgeRuntime.Generation.Sampling;
using EdgeRuntime.Generation.Tokenization;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Fuzz;

/// <summary>
/// What edged checks in a generate request before a model runs: that it is UTF-8, its sampling options, and its chat
/// as each chat template renders it (a first turn and a continued session). Each check's typed refusal is expected.
/// </summary>
internal static class GenerationTarget
{
    public static void Check(byte[] json)
    {
        if (!Utf8.IsValid(json))
        {
            return; // refused as invalid_prompt before it is parsed
        }

        GenerateRequest request;
        try
        {
            request = ProtocolJson.Deserialize(json, ProtocolJsonContext.Default.GenerateRequest);
        }
        catch (EdgeRuntimeException)
        {
            return;
        }

        Refusable(() => SamplingSettings.From(request.Sampling, 0));
        if (request.Messages is { } messages)
        {
            foreach (string name in ChatTemplate.Names)
            {
                var template = ChatTemplate.ForName(name);
                Refusable(() => template.Render(messages));
                Refusable(() => template.Render(messages, isContinuation: true));
            }
        }
    }

    private static void Refusable<T>(Func<T> check)
    {
        try
        {
            _ = check();
        }
        catch (EdgeRuntimeException)
        {
        }
    }
}
