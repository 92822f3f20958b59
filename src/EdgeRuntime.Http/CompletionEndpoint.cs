using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Serialization.Metadata;
using EdgeRuntime.Protocol;
using EdgeRuntime.Server;
using Microsoft.AspNetCore.Http;

namespace EdgeRuntime.Http;

/// <summary>
/// POST /v1/chat/completions and /v1/completions: read and map the request, start the generation, answer whole or as
/// server-sent events. A generation this handler does not see to its end is cancelled when it returns: whether the
/// client disconnected (RequestAborted) or the answer failed, the engine stops at its next step and frees the session
/// instead of decoding for nobody.
/// </summary>
internal sealed class CompletionEndpoint(IGenerationServices generation, TimeProvider time)
{
    public Task ChatAsync(HttpContext context) =>
        RunAsync(context, ChatShape.Instance, OpenAiJsonContext.Default.ChatCompletionRequest, RequestMapping.FromChat);

    public Task TextAsync(HttpContext context) =>
        RunAsync(context, TextShape.Instance, OpenAiJsonContext.Default.CompletionRequest, RequestMapping.FromCompletion);

    private async Task RunAsync<TBody>(HttpContext context, ICompletionShape shape, JsonTypeInfo<TBody> bodyType, Func<TBody, GenerateRequest> map)
        where TBody : CompletionFields
    {
        var body = await JsonBodies.ReadAsync(context.Request, bodyType).ConfigureAwait(false);
        var request = map(body);
        IGeneration run;
        try
        {
            run = generation.Start(request, ReadOnlyMemory<byte>.Empty);
        }
        catch (EdgeRuntimeException e)
        {
            throw ErrorMapping.From(e);
        }

        var identity = new CompletionIdentity(shape.IdPrefix + RandomNumberGenerator.GetHexString(24, lowercase: true), time.GetUtcNow().ToUnixTimeSeconds(), request.Model);
        bool ended = false;
        try
        {
            if (body.Stream == true)
            {
                await StreamAsync(context, run, shape, identity, RequestMapping.IncludeUsage(body)).ConfigureAwait(false);
            }
            else
            {
                await WholeAsync(context, run, shape, identity).ConfigureAwait(false);
            }

            ended = true;
        }
        finally
        {
            if (!ended)
            {
                run.Cancel();
            }
        }
    }

    private static async Task WholeAsync(HttpContext context, IGeneration run, ICompletionShape shape, CompletionIdentity identity)
    {
        var aborted = context.RequestAborted;
        var text = new StringBuilder();
        GenerateResponse summary;
        try
        {
            await foreach (var token in run.Tokens.ReadAllAsync(aborted).ConfigureAwait(false))
            {
                text.Append(token.Text);
            }

            summary = await run.Summary.WaitAsync(aborted).ConfigureAwait(false);
        }
        catch (EdgeRuntimeException e)
        {
            throw ErrorMapping.From(e);
        }

        string finishReason = FinishReasons.For(summary.StopReason) ?? throw Cancelled();
        await shape.WriteWholeAsync(context.Response, identity, text.ToString(), finishReason, Usage(summary)).ConfigureAwait(false);
    }

    /// <summary>
    /// Sends the opening chunk at once, then every piece of text as the engine produces it; tokens that arrived together
    /// leave in one write. An error after the first chunk is reported as an error event, without [DONE].
    /// </summary>
    private static async Task StreamAsync(HttpContext context, IGeneration run, ICompletionShape shape, CompletionIdentity identity, bool includeUsage)
    {
        var aborted = context.RequestAborted;
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        using var events = new ServerSentEvents(response.BodyWriter);
        shape.WriteOpening(events, identity);
        await events.FlushAsync(aborted).ConfigureAwait(false); // sends the status line and headers too
        try
        {
            var tokens = run.Tokens;
            while (await tokens.WaitToReadAsync(aborted).ConfigureAwait(false))
            {
                while (tokens.TryRead(out var token))
                {
                    // Empty while a character's bytes are split across tokens; the next token completes it.
                    if (token.Text.Length > 0)
                    {
                        shape.WritePiece(events, identity, token.Text);
                    }
                }

                await events.FlushAsync(aborted).ConfigureAwait(false);
            }

            var summary = await run.Summary.WaitAsync(aborted).ConfigureAwait(false);
            if (FinishReasons.For(summary.StopReason) is not { } finishReason)
            {
                events.WriteError(Cancelled());
                await events.FlushAsync(aborted).ConfigureAwait(false);
                return;
            }

            shape.WriteFinish(events, identity, finishReason);
            if (includeUsage)
            {
                shape.WriteUsage(events, identity, Usage(summary));
            }

            events.WriteDone();
            await events.FlushAsync(aborted).ConfigureAwait(false);
        }
        catch (EdgeRuntimeException e)
        {
            events.WriteError(ErrorMapping.From(e));
            await events.FlushAsync(aborted).ConfigureAwait(false);
        }
    }

    private static Usage Usage(GenerateResponse summary) => new(summary.PromptTokens, summary.GeneratedTokens);

    /// <summary>The engine cancelled a generation this client still waits for: only the daemon does that, when stopping.</summary>
    private static HttpApiException Cancelled() =>
        new(StatusCodes.Status503ServiceUnavailable, ErrorTypes.Server, ErrorCodes.ShuttingDown, "The generation was cancelled by the daemon before it finished.");
}
