using EdgeRuntime.Transport;

namespace EdgeRuntime.Server;

/// <summary>
/// One registered shared-memory region, mapped in the daemon. Counted leases keep the mapping alive while requests
/// use it: unregistering drops the table's lease, and the memory is unmapped when the last request lets go.
/// </summary>
internal sealed class SharedRegion(string name, MappedMemory memory)
{
    private int _leases = 1; // the connection's table holds one until the region is unregistered

    public string Name { get; } = name;

    public int Size => memory.Size;

    public Memory<byte> Memory => memory.Memory;

    /// <summary>Takes a lease; false once the region is gone (unregistered and its last lease released).</summary>
    public bool TryAcquire()
    {
        int current = Volatile.Read(ref _leases);
        while (current > 0)
        {
            int seen = Interlocked.CompareExchange(ref _leases, current + 1, current);
            if (seen == current)
            {
                return true;
            }

            current = seen;
        }

        return false;
    }

    public void Release()
    {
        if (Interlocked.Decrement(ref _leases) == 0)
        {
            ((IDisposable)memory).Dispose();
        }
    }
}
