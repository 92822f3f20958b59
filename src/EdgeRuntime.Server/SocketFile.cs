using EdgeRuntime.Transport;

namespace EdgeRuntime.Server;

/// <summary>Prepares the socket path: replaces a stale file left by a crashed daemon, never one a live daemon is using.</summary>
public static class SocketFile
{
    public static void PrepareForBind(string path)
    {
        string? directory = Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(directory) && !Directory.Exists(directory))
        {
            // Owner and group may enter; the socket file itself is 0660.
            Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute);
        }

        if (!File.Exists(path))
        {
            return;
        }

        if (UnixSocketProbe.IsAccepting(path))
        {
            throw new InvalidOperationException($"Another edged is already serving on {path}. Stop it first, or start this one with --socket PATH.");
        }

        File.Delete(path);
    }
}
