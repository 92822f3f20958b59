using System.Runtime.InteropServices;

namespace EdgeRuntime.Server.Tests;

/// <summary>A memfd made the way a careless client would: sized but not sealed (the daemon must refuse it).</summary>
internal static partial class UnsealedMemfd
{
    public static int Create(long size)
    {
        int fd = MemfdCreate("unsealed", 0x1 | 0x2); // MFD_CLOEXEC | MFD_ALLOW_SEALING, but no seal added
        Assert.True(fd >= 0, "memfd_create failed");
        Assert.Equal(0, Truncate(fd, (nint)size));
        return fd;
    }

    [LibraryImport("libc", EntryPoint = "memfd_create", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MemfdCreate(string name, uint flags);

    [LibraryImport("libc", EntryPoint = "ftruncate")]
    private static partial int Truncate(int fd, nint length);
}
