using EdgeRuntime.Inference.Paths;
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

        var kind = UnixFiles.KindOf(path, followLinks: false);
        if (kind == FileKind.Missing)
        {
            return;
        }

        // Only a socket (a stale one from a crash) may be replaced: a mistyped --socket must never delete a user's file.
        if (kind != FileKind.Socket)
        {
            string what = kind switch
            {
                FileKind.Regular => "a regular file",
                FileKind.Directory => "a folder",
                FileKind.SymbolicLink => "a symbolic link",
                FileKind.Fifo => "a FIFO",
                _ => "a device",
            };
            throw new SocketPathException($"{path} is {what}, not a socket; edged replaces only a stale socket there. Remove it yourself, or start edged with --socket PATH.");
        }

        if (UnixSocketProbe.IsAccepting(path))
        {
            throw new SocketPathException($"Another edged is already serving on {path}. Stop it first, or start this one with --socket PATH.") { LiveDaemon = true };
        }

        File.Delete(path);
    }
}

/// <summary>The socket path cannot be bound: a live daemon serves on it, or it names something that is not a socket.</summary>
public sealed class SocketPathException(string message) : InvalidOperationException(message)
{
    /// <summary>True when another daemon is accepting on the path (rather than the path naming a non-socket file).</summary>
    public bool LiveDaemon { get; init; }
}
