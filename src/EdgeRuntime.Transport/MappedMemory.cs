using System.Buffers;

namespace EdgeRuntime.Transport;

/// <summary>
/// A shared mapping as <see cref="Memory{T}"/>, so code that takes managed memory (tensor views, ORT inputs) reads
/// and writes it in place. Pinning is free: the mapping never moves. Dispose unmaps it; the owner must make sure
/// nothing still uses the memory (the daemon counts leases, see SharedRegion).
/// </summary>
public sealed unsafe class MappedMemory : MemoryManager<byte>
{
    private nint _address;

    /// <param name="size">At most <see cref="int.MaxValue"/> (checked before mapping, see <see cref="SharedMemory.Map"/>).</param>
    internal MappedMemory(nint address, int size)
    {
        _address = address;
        Size = size;
    }

    public int Size { get; }

    public override Span<byte> GetSpan() => new((void*)Address, Size);

    public override MemoryHandle Pin(int elementIndex = 0)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)elementIndex, (uint)Size);
        return new MemoryHandle((byte*)Address + elementIndex);
    }

    public override void Unpin()
    {
    }

    private nint Address
    {
        get
        {
            nint address = Volatile.Read(ref _address);
            ObjectDisposedException.ThrowIf(address == 0, this);
            return address;
        }
    }

    protected override void Dispose(bool disposing)
    {
        // Once only, even when two threads dispose at once: a second munmap could hit whatever reused the address.
        nint address = Interlocked.Exchange(ref _address, 0);
        if (address != 0)
        {
            SharedMemory.Unmap((byte*)address, Size);
        }
    }
}
