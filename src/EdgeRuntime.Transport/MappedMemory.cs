using System.Buffers;

namespace EdgeRuntime.Transport;

/// <summary>
/// A shared mapping as <see cref="Memory{T}"/>, so code that takes managed memory (tensor views, ORT inputs) reads
/// and writes it in place. Pinning is free: the mapping never moves. Dispose unmaps it; the owner must make sure
/// nothing still uses the memory (the daemon counts leases, see SharedRegion).
/// </summary>
public sealed unsafe class MappedMemory : MemoryManager<byte>
{
    private byte* _address;

    internal MappedMemory(byte* address, long size)
    {
        // Memory<byte> is int-indexed; callers cap region sizes below 2 GiB.
        ArgumentOutOfRangeException.ThrowIfGreaterThan(size, int.MaxValue);
        _address = address;
        Size = (int)size;
    }

    public int Size { get; }

    public override Span<byte> GetSpan() =>
        _address != null ? new Span<byte>(_address, Size) : throw new ObjectDisposedException(nameof(MappedMemory));

    public override MemoryHandle Pin(int elementIndex = 0)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)elementIndex, (uint)Size);
        return new MemoryHandle(_address + elementIndex);
    }

    public override void Unpin()
    {
    }

    protected override void Dispose(bool disposing)
    {
        if (_address != null)
        {
            SharedMemory.Unmap(_address, Size);
            _address = null;
        }
    }
}
