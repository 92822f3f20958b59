namespace EdgeRuntime.Cli;

/// <summary>A command line that parsed but cannot run as given (e.g. --split names an input not given): exit 2.</summary>
internal sealed class UsageException(string message) : Exception(message);
