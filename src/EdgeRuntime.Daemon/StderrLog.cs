using EdgeRuntime.Server;

namespace EdgeRuntime.Daemon;

/// <summary>
/// Log lines on stderr. Under systemd (JOURNAL_STREAM set) each line starts with the syslog priority, "&lt;6&gt;", which
/// journald turns into the entry's level; on a terminal it starts with a UTC timestamp and the level's name.
/// </summary>
internal sealed class StderrLog(LogLevel threshold) : IServerLog
{
    private readonly bool _journal = !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("JOURNAL_STREAM"));
    private readonly Lock _gate = new();

    public void Write(LogLevel level, string component, string message)
    {
        if (level > threshold)
        {
            return;
        }

        string line = _journal
            ? $"<{(int)level}>{component}: {message}"
            : $"{DateTime.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ} {Name(level),-7} {component}: {message}";
        lock (_gate)
        {
            Console.Error.WriteLine(line);
        }
    }

    private static string Name(LogLevel level) => level switch
    {
        LogLevel.Debug => "debug",
        LogLevel.Info => "info",
        LogLevel.Notice => "notice",
        LogLevel.Warning => "warning",
        _ => "error",
    };
}
