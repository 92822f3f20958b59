using System.Text;
using System.Text.Json;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Http;

/// <summary>
/// Turns an OpenAI request into edged's <see cref="GenerateRequest"/>. What edged can honour is mapped one to one;
/// what it cannot (several choices, tools, log probabilities, OpenAI's additive penalties) is refused with a 400 naming
/// the field, rather than ignored: a client that asked for them would otherwise get an answer it did not ask for.
/// Ranges (temperature ≥ 0, top_p in (0, 1], ...) are the engine's to check; its invalid_sampling errors become 400s too.
/// </summary>
internal static class RequestMapping
{
    public static GenerateRequest FromChat(ChatCompletionRequest body)
    {
        ArgumentNullException.ThrowIfNull(body);
        string model = Model(body);
        if (body.Logprobs == true || body.TopLogprobs is not null)
        {
            throw HttpApiException.BadRequest(body.Logprobs == true ? "logprobs" : "top_logprobs", "Log probabilities are not supported by edged.");
        }

        if (IsSet(body.Tools) || IsSet(body.Functions))
        {
            throw HttpApiException.BadRequest(IsSet(body.Tools) ? "tools" : "functions", "Tool and function calling are not supported by edged.");
        }

        if (!IsAbsentOrNone(body.ToolChoice) || !IsAbsentOrNone(body.FunctionCall))
        {
            throw HttpApiException.BadRequest(IsAbsentOrNone(body.ToolChoice) ? "function_call" : "tool_choice", "Tool and function calling are not supported by edged; only \"none\" is accepted.");
        }

        if (IsSet(body.ResponseFormat) && !IsTextFormat(body.ResponseFormat!.Value))
        {
            throw HttpApiException.BadRequest("response_format", "Structured output (json_object, json_schema) is not supported by edged; only {\"type\": \"text\"} is accepted.");
        }

        if (body.MaxTokens is not null && body.MaxCompletionTokens is not null && body.MaxTokens != body.MaxCompletionTokens)
        {
            throw HttpApiException.BadRequest("max_completion_tokens", "max_tokens and max_completion_tokens differ; give one of them.");
        }

        if (body.Messages is not { Length: > 0 } messages)
        {
            throw HttpApiException.BadRequest("messages", "messages is required: a chat of at least one message.");
        }

        return Common(body, model, body.MaxCompletionTokens ?? body.MaxTokens, body.MaxCompletionTokens is not null ? "max_completion_tokens" : "max_tokens") with
        {
            Messages = [.. messages.Select(Message)],
        };
    }

    public static GenerateRequest FromCompletion(CompletionRequest body)
    {
        ArgumentNullException.ThrowIfNull(body);
        string model = Model(body);
        if (body.Logprobs is not (null or 0))
        {
            throw HttpApiException.BadRequest("logprobs", "Log probabilities are not supported by edged.");
        }

        if (body.Echo == true)
        {
            throw HttpApiException.BadRequest("echo", "echo is not supported by edged: the answer holds the completion only.");
        }

        if (!string.IsNullOrEmpty(body.Suffix))
        {
            throw HttpApiException.BadRequest("suffix", "suffix (fill-in-the-middle) is not supported by edged.");
        }

        if (body.BestOf is not (null or 1))
        {
            throw HttpApiException.BadRequest("best_of", "best_of must be 1: edged generates one completion per request.");
        }

        return Common(body, model, body.MaxTokens, "max_tokens") with { Prompt = Prompt(body.Prompt) };
    }

    /// <summary>Whether the answer ends with a usage chunk: stream_options.include_usage.</summary>
    public static bool IncludeUsage(CompletionFields body) => body.StreamOptions?.IncludeUsage == true;

    private static GenerateRequest Common(CompletionFields body, string model, int? maxTokens, string maxTokensField)
    {
        if (body.N is not (null or 1))
        {
            throw HttpApiException.BadRequest("n", $"n is {body.N}; edged generates one choice per request, so n must be 1.");
        }

        if (maxTokens is <= 0)
        {
            throw HttpApiException.BadRequest(maxTokensField, $"{maxTokensField} is {maxTokens}; it must be at least 1.");
        }

        // OpenAI's penalties subtract from a token's logit per use (frequency) or once (presence); edged's
        // repetition_penalty scales it, once. They are not the same curve, so a non-zero one is refused, not approximated.
        foreach ((string field, float? value) in new[] { ("frequency_penalty", body.FrequencyPenalty), ("presence_penalty", body.PresencePenalty) })
        {
            if (value is { } penalty && penalty != 0)
            {
                throw HttpApiException.BadRequest(field, $"{field} is not supported by edged (only 0); use repetition_penalty (an extension: > 1 discourages repeats, 1 is off).");
            }
        }

        // An empty map changes nothing and some clients always send one.
        if (IsSet(body.LogitBias) && (body.LogitBias!.Value.ValueKind != JsonValueKind.Object || body.LogitBias.Value.EnumerateObject().Any()))
        {
            throw HttpApiException.BadRequest("logit_bias", "logit_bias is not supported by edged.");
        }

        return new GenerateRequest(model)
        {
            MaxTokens = maxTokens,
            Sampling = Sampling(body),
            Stop = Stop(body.Stop),
            StopTokenIds = body.StopTokenIds is { Length: > 0 } ids ? ids : null,
        };
    }

    private static string Model(CompletionFields body) =>
        string.IsNullOrEmpty(body.Model) ? throw HttpApiException.BadRequest("model", "model is required: the name of a loaded language model (GET /v1/models lists them).") : body.Model;

    /// <summary>Null when no sampling field is given, so the engine's default (greedy) applies.</summary>
    private static SamplingSpec? Sampling(CompletionFields body) =>
        body is { Temperature: null, TopP: null, TopK: null, MinP: null, RepetitionPenalty: null, Seed: null }
            ? null
            : new SamplingSpec
            {
                Temperature = body.Temperature,
                TopP = body.TopP,
                TopK = body.TopK,
                MinP = body.MinP,
                RepetitionPenalty = body.RepetitionPenalty,

                // OpenAI's seed is any 64-bit integer; the engine's is unsigned. The bits are kept, so equal seeds
                // still give equal answers.
                Seed = body.Seed is { } seed ? unchecked((ulong)seed) : null,
            };

    private static string[]? Stop(JsonElement? stop)
    {
        if (!IsSet(stop))
        {
            return null;
        }

        string[] strings = stop!.Value.ValueKind switch
        {
            JsonValueKind.String => [stop.Value.GetString()!],
            JsonValueKind.Array when stop.Value.EnumerateArray().All(s => s.ValueKind == JsonValueKind.String) => [.. stop.Value.EnumerateArray().Select(s => s.GetString()!)],
            _ => throw HttpApiException.BadRequest("stop", "stop must be a string or an array of strings."),
        };
        if (strings.Any(s => s.Length == 0))
        {
            throw HttpApiException.BadRequest("stop", "A stop string is empty; every stop string needs at least one character.");
        }

        return strings.Length == 0 ? null : strings;
    }

    private static string Prompt(JsonElement? prompt)
    {
        if (!IsSet(prompt))
        {
            throw HttpApiException.BadRequest("prompt", "prompt is required: the text to continue.");
        }

        var value = prompt!.Value;
        if (value.ValueKind == JsonValueKind.String)
        {
            return value.GetString()!;
        }

        if (value.ValueKind == JsonValueKind.Array && value.GetArrayLength() == 1 && value[0].ValueKind == JsonValueKind.String)
        {
            return value[0].GetString()!;
        }

        throw HttpApiException.BadRequest(
            "prompt",
            value.ValueKind == JsonValueKind.Array && value.EnumerateArray().All(p => p.ValueKind == JsonValueKind.String)
                ? "edged completes one prompt per request; send the prompts one at a time."
                : "prompt must be a string (token-id prompts are not supported by edged).");
    }

    private static ChatMessage Message(ChatMessageBody? message, int index)
    {
        if (message?.Role is not { Length: > 0 } role)
        {
            throw HttpApiException.BadRequest($"messages[{index}].role", $"messages[{index}] has no role.");
        }

        // OpenAI's newer name for the system message; the chat templates know it as system.
        if (role == "developer")
        {
            role = "system";
        }

        return new ChatMessage(role, Content(message.Content, index));
    }

    /// <summary>A string, or the text parts of an array joined by newlines; other parts (images, audio) are refused.</summary>
    private static string Content(JsonElement? content, int index)
    {
        string field = $"messages[{index}].content";
        if (!IsSet(content))
        {
            throw HttpApiException.BadRequest(field, $"{field} is required.");
        }

        var value = content!.Value;
        if (value.ValueKind == JsonValueKind.String)
        {
            return value.GetString()!;
        }

        if (value.ValueKind != JsonValueKind.Array)
        {
            throw HttpApiException.BadRequest(field, $"{field} must be a string or an array of text parts.");
        }

        var text = new StringBuilder();
        int part = 0;
        foreach (var item in value.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Object
                || !item.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String
                || type.GetString() != "text"
                || !item.TryGetProperty("text", out var piece) || piece.ValueKind != JsonValueKind.String)
            {
                throw HttpApiException.BadRequest($"{field}[{part}]", $"{field}[{part}] is not a text part ({{\"type\": \"text\", \"text\": \"...\"}}); edged reads text only.");
            }

            text.Append(part > 0 ? "\n" : "").Append(piece.GetString());
            part++;
        }

        return text.ToString();
    }

    private static bool IsSet(JsonElement? value) => value is { ValueKind: not (JsonValueKind.Null or JsonValueKind.Undefined) };

    private static bool IsAbsentOrNone(JsonElement? value) =>
        !IsSet(value) || value!.Value is { ValueKind: JsonValueKind.String } choice && choice.GetString() == "none";

    private static bool IsTextFormat(JsonElement format) =>
        format.ValueKind == JsonValueKind.Object && format.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String && type.GetString() == "text";
}
