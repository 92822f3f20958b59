using System.Runtime.InteropServices;

namespace EdgeRuntime.Transport;

/// <summary>
/// Memory two processes share through a memfd: created and sealed by a client, checked and mapped by the daemon.
/// The size seals (no shrink, no grow) are what make the sharing safe: with them neither side can cut the memory
/// under the other's mapping, which would turn the next access into SIGBUS.
/// </summary>
public static unsafe partial class SharedMemory
{
    public const int SealShrink = 0x2;
    public const int SealGrow = 0x4;
    public const int SealWrite = 0x8;

    private const uint MfdCloexec = 0x1;
    private const uint MfdAllowSealing = 0x2;
    private const int FAddSeals = 1033;
    private const int FGetSeals = 1034;
    private const int ProtRead = 0x1;
    private const int ProtWrite = 0x2;
    private const int MapShared = 0x1;

    public static bool IsSupported => OperatingSystem.IsLinux();

    /// <summary>Creates a memfd of <paramref name="size"/> bytes (zeros), sealed against shrinking and growing.</summary>
    /// <returns>The descriptor; the caller closes it with <see cref="DescriptorPassing.Close"/>.</returns>
    /// <exception cref="IOException">The kernel refused (no memfd support, out of memory).</exception>
    public static int CreateSealed(string name, long size)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(size);
        int fd = MemfdCreate(name, MfdCloexec | MfdAllowSealing);
        if (fd < 0)
        {
            throw Failure("memfd_create");
        }

        if (Truncate(fd, (nint)size) != 0 || Control(fd, FAddSeals, SealShrink | SealGrow) != 0)
        {
            var failure = Failure("sizing and sealing the memfd");
            DescriptorPassing.Close(fd);
            throw failure;
        }

        return fd;
    }

    /// <summary>The seals on <paramref name="fd"/>, or -1 when it cannot carry seals (not a memfd).</summary>
    public static int Seals(int fd) => Control(fd, FGetSeals, 0);

    /// <summary>
    /// The size of the memfd behind <paramref name="fd"/> in bytes (fstat, which leaves the file offset it shares with
    /// the client alone), or -1 when it cannot be read.
    /// </summary>
    public static long Size(int fd)
    {
        try
        {
            using var handle = new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: false);
            return RandomAccess.GetLength(handle);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            return -1;
        }
    }

    /// <summary>
    /// True when <paramref name="fd"/> lives on hugetlbfs. Huge pages are reserved, not promised: once the client
    /// punches a hole (which the size seals do not prevent), the daemon's next access may find no huge page free and
    /// fault with SIGBUS. Regions must be ordinary memfds.
    /// </summary>
    public static bool IsHugePages(int fd)
    {
        // struct statfs begins with f_type (a long) on every Linux ABI we build for; the rest is room.
        const long hugetlbfsMagic = 0x958458f6;
        long* buffer = stackalloc long[32];
        return FileSystemStatus(fd, buffer) == 0 && buffer[0] == hugetlbfsMagic;
    }

    /// <summary>Maps <paramref name="size"/> bytes of <paramref name="fd"/> shared, for reading and writing.</summary>
    /// <exception cref="IOException">mmap failed; the message says why in the kernel's words.</exception>
    public static MappedMemory Map(int fd, long size)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(size);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(size, int.MaxValue); // Memory<byte> is int-indexed
        void* address = MemoryMap(null, (nuint)size, ProtRead | ProtWrite, MapShared, fd, 0);
        if (address == (void*)-1)
        {
            throw Failure("mmap");
        }

        return new MappedMemory((nint)address, (int)size);
    }

    internal static void Unmap(byte* address, long size) => _ = MemoryUnmap(address, (nuint)size);

    private static IOException Failure(string what)
    {
        int errno = Marshal.GetLastPInvokeError();
        return new IOException($"{what} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}).");
    }

    [LibraryImport("libc", EntryPoint = "memfd_create", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MemfdCreate(string name, uint flags);

    [LibraryImport("libc", EntryPoint = "ftruncate", SetLastError = true)]
    private static partial int Truncate(int fd, nint length);

    // fcntl is variadic; with one int argument the Linux calling conventions pass it as a fixed one (x64, arm64).
    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Control(int fd, int command, int argument);

    [LibraryImport("libc", EntryPoint = "fstatfs", SetLastError = true)]
    private static partial int FileSystemStatus(int fd, long* buffer);

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial void* MemoryMap(void* address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    private static partial int MemoryUnmap(void* address, nuint length);
}
