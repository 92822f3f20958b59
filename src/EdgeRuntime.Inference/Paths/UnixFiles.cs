using System.Runtime.InteropServices;

namespace EdgeRuntime.Inference.Paths;

/// <summary>What a path names, as lstat/stat sees it.</summary>
public enum FileKind
{
    Missing,
    Regular,
    Directory,
    Socket,
    Fifo,
    SymbolicLink,
    Device,
}

/// <summary>
/// File types and resolved paths, which .NET does not expose: a FIFO must be told from a regular file before it is
/// opened (opening one blocks until a writer appears), and symlinks in any folder of a path must be resolved to know
/// where the path really leads.
/// </summary>
public static partial class UnixFiles
{
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxType = 0x1;
    private const int StatxSize = 256;
    private const int StatxModeOffset = 28; // struct statx is the same on every Linux architecture

    /// <summary>The kind of file at <paramref name="path"/>; a symlink itself unless <paramref name="followLinks"/>.</summary>
    public static unsafe FileKind KindOf(string path, bool followLinks)
    {
        byte* buffer = stackalloc byte[StatxSize];
        if (Statx(AtFdCwd, path, followLinks ? 0 : AtSymlinkNoFollow, StatxType, buffer) != 0)
        {
            return FileKind.Missing;
        }

        int type = *(ushort*)(buffer + StatxModeOffset) & 0xF000;
        return type switch
        {
            0x8000 => FileKind.Regular,
            0x4000 => FileKind.Directory,
            0xC000 => FileKind.Socket,
            0x1000 => FileKind.Fifo,
            0xA000 => FileKind.SymbolicLink,
            _ => FileKind.Device,
        };
    }

    /// <summary>The absolute path with every symlink and ".." resolved, or null when some part of it does not exist.</summary>
    public static string? RealPath(string path)
    {
        nint resolved = Realpath(path, 0);
        if (resolved == 0)
        {
            return null;
        }

        try
        {
            return Marshal.PtrToStringUTF8(resolved);
        }
        finally
        {
            Free(resolved);
        }
    }

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int Statx(int directoryFd, string path, int flags, uint mask, byte* buffer);

    [LibraryImport("libc", EntryPoint = "realpath", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint Realpath(string path, nint resolved);

    [LibraryImport("libc", EntryPoint = "free")]
    private static partial void Free(nint pointer);
}
