namespace EdgeRuntime.Protocol;

/// <summary>
/// An error with a protocol error code (<see cref="ErrorCodes"/>). The daemon turns it into an error frame; the client
/// raises it from one. The message is written for a person to act on.
/// </summary>
public sealed class EdgeRuntimeException : Exception
{
    public EdgeRuntimeException(string code, string message)
        : base(message)
    {
        Code = code;
    }

    public EdgeRuntimeException(string code, string message, Exception inner)
        : base(message, inner)
    {
        Code = code;
    }

    public EdgeRuntimeException()
        : this(ErrorCodes.Internal, "Unspecified error.")
    {
    }

    public EdgeRuntimeException(string message)
        : this(ErrorCodes.Internal, message)
    {
    }

    public EdgeRuntimeException(string message, Exception inner)
        : this(ErrorCodes.Internal, message, inner)
    {
    }

    public string Code { get; }
}
