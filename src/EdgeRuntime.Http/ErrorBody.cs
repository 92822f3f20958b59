namespace EdgeRuntime.Http;

/// <summary>OpenAI's error shape: {"error": {"message", "type", "param", "code"}}. Code is edged's error code.</summary>
internal sealed record ErrorBody(ErrorDetail Error);

internal sealed record ErrorDetail(string Message, string Type, string? Param, string Code);
