using System.Runtime.InteropServices;

namespace EdgeRuntime.Store;

/// <summary>
/// fsync of a directory, so a newly created or deleted segment file survives a power cut. .NET has no API for it
/// (FileStream cannot open a directory), hence open(2)/fsync(2) directly.
/// </summary>
internal static partial class DirectorySync
{
    private const int ORdOnly = 0;

    public static void Flush(string directory)
    {
        // O_DIRECTORY is 0x10000 on x86-64 and 0x4000 on arm64; neither is needed for fsync, so open read-only and
        // let fsync work on whatever the path names.
        int fd = Open(directory, ORdOnly);
        if (fd < 0)
        {
            return; // best effort: the data itself was flushed; only the name's durability is at stake
        }

        try
        {
            _ = Fsync(fd);
        }
        finally
        {
            _ = Close(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync")]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
