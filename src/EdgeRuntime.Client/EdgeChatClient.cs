using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using EdgeRuntime.Protocol;
using Microsoft.Extensions.AI;

namespace EdgeRuntime.Client;

/// <summary>
/// <see cref="IChatClient"/> over a language model loaded in edged, so code written against Microsoft.Extensions.AI
/// runs on the board unchanged.
/// </summary>
/// <remarks>
/// <para>
/// Conversations: a response's <see cref="ChatResponse.ConversationId"/> is the daemon's kept session. Pass it back as
/// <see cref="ChatOptions.ConversationId"/> with only the new messages, and the daemon continues from its cache
/// instead of reading the whole history again. Without one the messages are the whole history, sent with
/// <c>keep</c> so that a session (and an id) comes back; set <see cref="KeepSessions"/> false for one-shot use.
/// </para>
/// <para>
/// Options mapped: <see cref="ChatOptions.Temperature"/>, <see cref="ChatOptions.TopP"/>, <see cref="ChatOptions.TopK"/>,
/// <see cref="ChatOptions.Seed"/>, <see cref="ChatOptions.MaxOutputTokens"/>, <see cref="ChatOptions.StopSequences"/>,
/// <see cref="ChatOptions.ModelId"/> (another loaded model), <see cref="ChatOptions.Instructions"/> (a leading system
/// message of a new conversation), and in <see cref="ChatOptions.AdditionalProperties"/>
/// <see cref="RepetitionPenaltyKey"/> and <see cref="MinPKey"/>. Not mapped, for want of an equivalent: frequency and
/// presence penalties (additive, where edged's repetition penalty divides), tools, response formats. Messages must
/// be text; roles go to the daemon as they are (it knows which its model's template takes).
/// </para>
/// </remarks>
public sealed class EdgeChatClient : IChatClient
{
    /// <summary>AdditionalProperties key for edged's repetition penalty (&gt; 0, 1 = off; divides repeated tokens' logits).</summary>
    public const string RepetitionPenaltyKey = "repetitionPenalty";

    /// <summary>AdditionalProperties key for min-p (in [0, 1): drop tokens below this fraction of the likeliest one's probability).</summary>
    public const string MinPKey = "minP";

    private readonly EdgeClient _client;
    private readonly ChatClientMetadata _metadata;

    /// <param name="client">The connection; not owned: disposing this chat client leaves it open.</param>
    /// <param name="model">The loaded language model's name.</param>
    public EdgeChatClient(EdgeClient client, string model)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentException.ThrowIfNullOrEmpty(model);
        _client = client;
        Model = model;
        _metadata = new ChatClientMetadata("edged", defaultModelId: model);
    }

    public string Model { get; }

    /// <summary>
    /// Whether a request without a ConversationId asks the daemon to keep the session (true, the default) so the
    /// response's ConversationId can continue it. A kept session holds its cache until continued, evicted or the
    /// daemon stops.
    /// </summary>
    public bool KeepSessions { get; init; } = true;

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<Microsoft.Extensions.AI.ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var request = ChatMapping.Request(Model, messages, options, KeepSessions);
        var createdAt = DateTimeOffset.UtcNow;
        await using var stream = await _client.GenerateAsync(request, cancellationToken).ConfigureAwait(false);
        var text = new StringBuilder();
        await foreach (var token in stream.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            text.Append(token.Text);
        }

        var summary = await stream.Summary.ConfigureAwait(false);
        string responseId = ResponseId(stream);
        return new ChatResponse(new Microsoft.Extensions.AI.ChatMessage(ChatRole.Assistant, text.ToString()) { MessageId = responseId, CreatedAt = createdAt })
        {
            ResponseId = responseId,
            ConversationId = summary.Session,
            ModelId = summary.Model,
            CreatedAt = createdAt,
            FinishReason = ChatMapping.FinishReason(summary.StopReason),
            Usage = ChatMapping.Usage(summary),
            AdditionalProperties = ChatMapping.Details(summary),
            RawRepresentation = summary,
        };
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<Microsoft.Extensions.AI.ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var request = ChatMapping.Request(Model, messages, options, KeepSessions);
        var createdAt = DateTimeOffset.UtcNow;
        await using var stream = await _client.GenerateAsync(request, cancellationToken).ConfigureAwait(false);
        string responseId = ResponseId(stream);
        await foreach (var token in stream.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            // An empty piece is half of a character split across tokens: its text comes with the next one.
            if (token.Text.Length > 0)
            {
                yield return new ChatResponseUpdate(ChatRole.Assistant, token.Text)
                {
                    ResponseId = responseId,
                    MessageId = responseId,
                    ConversationId = request.Session,
                    ModelId = request.Model,
                    CreatedAt = createdAt,
                    RawRepresentation = token,
                };
            }
        }

        var summary = await stream.Summary.ConfigureAwait(false);
        yield return new ChatResponseUpdate(ChatRole.Assistant, [new UsageContent(ChatMapping.Usage(summary))])
        {
            ResponseId = responseId,
            MessageId = responseId,
            ConversationId = summary.Session,
            ModelId = summary.Model,
            CreatedAt = createdAt,
            FinishReason = ChatMapping.FinishReason(summary.StopReason),
            AdditionalProperties = ChatMapping.Details(summary),
            RawRepresentation = summary,
        };
    }

    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null)
        {
            return null;
        }

        return serviceType == typeof(ChatClientMetadata) ? _metadata
            : serviceType == typeof(EdgeClient) ? _client
            : serviceType.IsInstanceOfType(this) ? this
            : null;
    }

    /// <summary>Nothing to release: the connection belongs to whoever passed it in.</summary>
    public void Dispose()
    {
    }

    private static string ResponseId(GenerationStream stream) => "edged-" + stream.RequestId.ToString(CultureInfo.InvariantCulture);
}
