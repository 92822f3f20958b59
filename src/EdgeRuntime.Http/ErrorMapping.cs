using EdgeRuntime.Protocol;
using Microsoft.AspNetCore.Http;

namespace EdgeRuntime.Http;

/// <summary>
/// edged's error codes as HTTP answers. Input the engine refuses is the client's mistake (400); an unknown model is a
/// 404; a full queue is a 429, which the OpenAI SDKs retry with back-off; a daemon that is stopping or a model being
/// unloaded is a 503; anything else is the daemon's fault (500).
/// </summary>
internal static class ErrorMapping
{
    public static HttpApiException From(EdgeRuntimeException error)
    {
        ArgumentNullException.ThrowIfNull(error);
        (int status, string type) = error.Code switch
        {
            ErrorCodes.BadRequest or ErrorCodes.InvalidSampling or ErrorCodes.InvalidPrompt or ErrorCodes.ContextOverflow
                or ErrorCodes.InvalidInput or ErrorCodes.WrongModelKind => (StatusCodes.Status400BadRequest, ErrorTypes.InvalidRequest),
            ErrorCodes.UnknownModel or ErrorCodes.UnknownSession => (StatusCodes.Status404NotFound, ErrorTypes.NotFound),
            ErrorCodes.Busy or ErrorCodes.SessionBusy => (StatusCodes.Status429TooManyRequests, ErrorTypes.RateLimit),
            ErrorCodes.ShuttingDown => (StatusCodes.Status503ServiceUnavailable, ErrorTypes.Server),
            ErrorCodes.PeerNotAllowed => (StatusCodes.Status403Forbidden, ErrorTypes.Permission),
            _ => (StatusCodes.Status500InternalServerError, ErrorTypes.Server),
        };
        return new HttpApiException(status, type, error.Code, error.Message);
    }
}
