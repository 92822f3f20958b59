using EdgeRuntime.Protocol;
using EdgeRuntime.Server;
using Microsoft.AspNetCore.Http;
using ServerLogLevel = EdgeRuntime.Server.LogLevel;

namespace EdgeRuntime.Http;

/// <summary>
/// The outermost middleware: every failure leaves as OpenAI's error JSON with a fitting status, and a client that went
/// away is not an error at all. Once a stream has started its status cannot change; the handlers report errors inside
/// the stream instead, so here such a failure can only close the connection.
/// </summary>
internal static class ErrorResponses
{
    public static ErrorBody Body(HttpApiException error) => new(new ErrorDetail(error.Message, error.Type, error.Param, error.Code));

    public static Func<RequestDelegate, RequestDelegate> Middleware(IServerLog log) => next => async context =>
    {
        HttpApiException error;
        try
        {
            await next(context).ConfigureAwait(false);
            return;
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            return;
        }
        catch (HttpApiException e)
        {
            error = e;
        }
        catch (EdgeRuntimeException e)
        {
            error = ErrorMapping.From(e);
        }
        catch (BadHttpRequestException e)
        {
            // Kestrel's own refusals while reading the body: too large (413), cut short (400).
            error = new HttpApiException(e.StatusCode, ErrorTypes.InvalidRequest, ErrorCodes.BadRequest, e.Message);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            log.Write(ServerLogLevel.Error, "http", $"{context.Request.Method} {context.Request.Path}: {e}");
            error = new HttpApiException(StatusCodes.Status500InternalServerError, ErrorTypes.Server, ErrorCodes.Internal, "edged failed while answering this request; its log says why.");
        }

        if (context.Response.HasStarted)
        {
            context.Abort();
            return;
        }

        context.Response.Clear();
        if (error.Status == StatusCodes.Status429TooManyRequests)
        {
            context.Response.Headers.RetryAfter = "1";
        }

        await JsonBodies.WriteAsync(context.Response, error.Status, Body(error), OpenAiJsonContext.Default.ErrorBody).ConfigureAwait(false);
    };
}
