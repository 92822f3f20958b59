using System.Globalization;
using System.Text.Json;
using EdgeRuntime.Protocol;
using Microsoft.Extensions.AI;
using WireMessage = EdgeRuntime.Protocol.ChatMessage;

namespace EdgeRuntime.Client;

/// <summary>
/// Translates between Microsoft.Extensions.AI's chat types and edged's generate records, for <see cref="EdgeChatClient"/>.
/// Only what has a real equivalent is mapped; see <see cref="EdgeChatClient"/> for the list.
/// </summary>
internal static class ChatMapping
{
    public static GenerateRequest Request(string model, IEnumerable<Microsoft.Extensions.AI.ChatMessage> messages, ChatOptions? options, bool keepSessions)
    {
        ArgumentNullException.ThrowIfNull(messages);
        string? session = options?.ConversationId;
        var wire = new List<WireMessage>();

        // Instructions start a conversation; a kept session already holds them, so continuing one does not repeat them
        // (an agent passes the same instructions on every call, and the session would fill with copies).
        if (session is null && !string.IsNullOrEmpty(options?.Instructions))
        {
            wire.Add(new WireMessage(ChatRole.System.Value, options.Instructions));
        }

        foreach (var message in messages)
        {
            wire.Add(new WireMessage(message.Role.Value, Text(message, wire.Count)));
        }

        return new GenerateRequest(options?.ModelId ?? model)
        {
            Messages = [.. wire],
            Session = session,
            Keep = session is null && keepSessions,
            MaxTokens = options?.MaxOutputTokens,
            Sampling = Sampling(options),
            Stop = options?.StopSequences is { Count: > 0 } stops ? [.. stops] : null,
        };
    }

    /// <summary>edged's stop reasons as finish reasons: the model or a stop sequence ended it, or a length limit did.</summary>
    public static ChatFinishReason FinishReason(string stopReason) => stopReason switch
    {
        StopReasons.EndOfSequence or StopReasons.StopToken or StopReasons.StopString => ChatFinishReason.Stop,
        StopReasons.MaxTokens or StopReasons.ContextFull => ChatFinishReason.Length,
        _ => new ChatFinishReason(stopReason),
    };

    /// <summary>
    /// Input counts every token the turn's answer was conditioned on: the ones prefilled now and the ones the kept
    /// session already held (as Microsoft.Extensions.AI counts cached input).
    /// </summary>
    public static UsageDetails Usage(GenerateResponse summary) => new()
    {
        InputTokenCount = summary.PromptTokens + summary.CachedTokens,
        CachedInputTokenCount = summary.CachedTokens,
        OutputTokenCount = summary.GeneratedTokens,
        TotalTokenCount = summary.PromptTokens + summary.CachedTokens + summary.GeneratedTokens,
    };

    /// <summary>The daemon's timings and context use, which have no field of their own in a chat response.</summary>
    public static AdditionalPropertiesDictionary Details(GenerateResponse summary) => new()
    {
        ["stopReason"] = summary.StopReason,
        ["timeToFirstTokenMs"] = summary.TimeToFirstTokenMs,
        ["prefillTokensPerSecond"] = summary.PrefillTokensPerSecond,
        ["decodeTokensPerSecond"] = summary.DecodeTokensPerSecond,
        ["totalMs"] = summary.TotalMs,
        ["contextUsed"] = summary.ContextUsed,
        ["contextLength"] = summary.ContextLength,
    };

    private static SamplingSpec? Sampling(ChatOptions? options)
    {
        if (options is null)
        {
            return null;
        }

        var sampling = new SamplingSpec
        {
            Temperature = options.Temperature,
            TopK = options.TopK,
            TopP = options.TopP,
            MinP = Number(options.AdditionalProperties, EdgeChatClient.MinPKey),
            RepetitionPenalty = Number(options.AdditionalProperties, EdgeChatClient.RepetitionPenaltyKey),

            // Any 64-bit value is a seed: a negative one keeps its bits.
            Seed = options.Seed is long seed ? unchecked((ulong)seed) : null,
        };
        return sampling == new SamplingSpec() ? null : sampling;
    }

    private static string Text(Microsoft.Extensions.AI.ChatMessage message, int index)
    {
        foreach (var content in message.Contents)
        {
            // Reasoning and usage are what a previous answer carried back, not prompt text; anything else cannot be said
            // in text, and dropping it would answer a question that was not asked.
            if (content is not (TextContent or TextReasoningContent or UsageContent))
            {
                throw new NotSupportedException(
                    $"edged's language models take text only: message {index} ({message.Role.Value}) holds {content.GetType().Name}.");
            }
        }

        return message.Text;
    }

    /// <summary>A number from AdditionalProperties as an app may put it there: a number, a JSON number or text.</summary>
    private static float? Number(AdditionalPropertiesDictionary? properties, string key)
    {
        if (properties is null || !properties.TryGetValue(key, out object? value) || value is null)
        {
            return null;
        }

        return value switch
        {
            float f => f,
            double d => (float)d,
            decimal m => (float)m,
            int i => i,
            long l => l,
            JsonElement { ValueKind: JsonValueKind.Number } json => json.GetSingle(),
            string text when float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out float parsed) => parsed,
            _ => throw new ArgumentException($"ChatOptions.AdditionalProperties[\"{key}\"] must be a number, not '{value}'.", nameof(properties)),
        };
    }
}
