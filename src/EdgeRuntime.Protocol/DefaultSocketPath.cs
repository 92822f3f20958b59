namespace EdgeRuntime.Protocol;

/// <summary>Where edged listens and edgectl connects when no path is given. Both sides use this one rule.</summary>
public static class DefaultSocketPath
{
    public const string EnvironmentVariable = "EDGED_SOCKET";
    public const string ServicePath = "/run/edgeruntime/edged.sock";

    /// <summary>
    /// $EDGED_SOCKET if set; under systemd ($RUNTIME_DIRECTORY) the service path; else
    /// $XDG_RUNTIME_DIR/edgeruntime/edged.sock (a user's session); else the board profile's socket path when it has
    /// one; else ./run/edged.sock.
    /// </summary>
    public static string Resolve(string? boardDefault = null)
    {
        string? explicitPath = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrEmpty(explicitPath))
        {
            return explicitPath;
        }

        string? runtimeDirectory = Environment.GetEnvironmentVariable("RUNTIME_DIRECTORY");
        if (!string.IsNullOrEmpty(runtimeDirectory))
        {
            return Path.Combine(runtimeDirectory.Split(':')[0], "edged.sock");
        }

        string? xdg = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR");
        if (!string.IsNullOrEmpty(xdg))
        {
            return Path.Combine(xdg, "edgeruntime", "edged.sock");
        }

        if (!string.IsNullOrEmpty(boardDefault))
        {
            return boardDefault;
        }

        return Path.GetFullPath(Path.Combine("run", "edged.sock"));
    }

    /// <summary>
    /// The client's rule: <see cref="Resolve"/>, except that when nothing listens there but the system service's
    /// socket exists, that one is used, so edgectl finds an installed daemon without flags.
    /// </summary>
    public static string ResolveForClient()
    {
        string path = Resolve();
        if (!File.Exists(path) && Environment.GetEnvironmentVariable(EnvironmentVariable) is null && File.Exists(ServicePath))
        {
            return ServicePath;
        }

        return path;
    }
}
