namespace EdgeRuntime.Server;

public enum LogLevel
{
    Debug = 7,
    Info = 6,
    Notice = 5,
    Warning = 4,
    Error = 3,
}

/// <summary>Where the server reports what happens. The daemon writes it to stderr for journald; tests collect it.</summary>
public interface IServerLog
{
    void Write(LogLevel level, string component, string message);
}

/// <summary>Discards everything; for tests and benchmarks that do not care.</summary>
public sealed class NullServerLog : IServerLog
{
    public static readonly NullServerLog Instance = new();

    public void Write(LogLevel level, string component, string message)
    {
    }
}
