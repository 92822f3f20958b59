using EdgeRuntime.Server;
using Microsoft.Extensions.Logging;
using MsLogLevel = Microsoft.Extensions.Logging.LogLevel;
using ServerLogLevel = EdgeRuntime.Server.LogLevel;

namespace EdgeRuntime.Http;

/// <summary>
/// Kestrel's and the host's log messages into edged's log (stderr, journald), under the component "http". Only
/// warnings and errors: Kestrel's information messages (every connection and request) would drown the daemon's own.
/// </summary>
internal sealed class ServerLogProvider(IServerLog log) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new Logger(log);

    public void Dispose()
    {
    }

    private sealed class Logger(IServerLog log) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(MsLogLevel logLevel) => logLevel >= MsLogLevel.Warning && logLevel != MsLogLevel.None;

        public void Log<TState>(MsLogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            ArgumentNullException.ThrowIfNull(formatter);
            if (!IsEnabled(logLevel))
            {
                return;
            }

            string message = formatter(state, exception);
            log.Write(logLevel >= MsLogLevel.Error ? ServerLogLevel.Error : ServerLogLevel.Warning, "http", exception is null ? message : $"{message}: {exception.Message}");
        }
    }
}
