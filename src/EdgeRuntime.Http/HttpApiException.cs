using Microsoft.AspNetCore.Http;

namespace EdgeRuntime.Http;

/// <summary>
/// A request this endpoint answers with an error: the HTTP status, OpenAI's error type, edged's error code, and the
/// request field at fault when there is one. Thrown by the mapping and the handlers, written by <see cref="ErrorResponses"/>.
/// </summary>
internal sealed class HttpApiException(int status, string type, string code, string message, string? param = null) : Exception(message)
{
    public int Status { get; } = status;

    public string Type { get; } = type;

    public string Code { get; } = code;

    public string? Param { get; } = param;

    /// <summary>A 400 naming the field at fault: the request is wrong as sent.</summary>
    public static HttpApiException BadRequest(string? param, string message) =>
        new(StatusCodes.Status400BadRequest, ErrorTypes.InvalidRequest, EdgeRuntime.Protocol.ErrorCodes.BadRequest, message, param);
}

/// <summary>OpenAI's error types: clients (and the OpenAI SDKs' exception classes) go by these and the status.</summary>
internal static class ErrorTypes
{
    public const string InvalidRequest = "invalid_request_error";
    public const string Permission = "permission_error";
    public const string NotFound = "not_found_error";
    public const string RateLimit = "rate_limit_error";
    public const string Server = "server_error";
}
