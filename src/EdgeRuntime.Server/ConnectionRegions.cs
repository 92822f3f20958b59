using EdgeRuntime.Inference;
using EdgeRuntime.Protocol;
using EdgeRuntime.Transport;

namespace EdgeRuntime.Server;

/// <summary>
/// The shared-memory regions one connection has registered. Only that connection can name them, which is the whole of
/// the access check: the memfd came from the peer over its own socket. Every region is released when the connection
/// ends (<see cref="Dispose"/>).
/// </summary>
internal sealed class ConnectionRegions(ServerOptions options) : IDisposable
{
    private const int MaxNameLength = 64;
    private readonly Dictionary<string, SharedRegion> _regions = new(StringComparer.Ordinal);
    private bool _disposed;

    /// <summary>
    /// Checks and maps the memfd that came with a region-register frame. Every descriptor in
    /// <paramref name="descriptors"/> is closed before this returns, mapped or not.
    /// </summary>
    public RegionRegisterResponse Register(byte[] json, int[] descriptors)
    {
        try
        {
            if (!options.SharedMemoryEnabled)
            {
                throw new EdgeRuntimeException(ErrorCodes.SharedMemoryDisabled, "This daemon does not accept shared-memory regions; its configuration must set sharedMemory.enabled. Send tensors in the payload instead.");
            }

            string name = ProtocolJson.Deserialize(json, ProtocolJsonContext.Default.NameRequest).Name;
            if (string.IsNullOrEmpty(name) || name.Length > MaxNameLength || name.Any(char.IsControl))
            {
                throw Invalid($"A region name is 1 to {MaxNameLength} printable characters.");
            }

            if (descriptors.Length != 1)
            {
                throw Invalid(descriptors.Length == 0
                    ? $"No file descriptor came with region-register '{name}': attach the memfd as SCM_RIGHTS to the sendmsg that carries the frame."
                    : $"{descriptors.Length} file descriptors came with region-register '{name}'; send exactly one.");
            }

            int fd = descriptors[0];
            int seals = SharedMemory.Seals(fd);
            if (seals < 0)
            {
                throw Invalid($"Region '{name}': the descriptor is not a memfd (it cannot carry seals). Create it with memfd_create(MFD_ALLOW_SEALING).");
            }

            const int sizeSeals = SharedMemory.SealShrink | SharedMemory.SealGrow;
            if ((seals & sizeSeals) != sizeSeals)
            {
                throw Invalid($"Region '{name}': the memfd must be sealed against shrinking and growing (fcntl F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), so that neither side can cut the memory under the other.");
            }

            if (SharedMemory.IsHugePages(fd))
            {
                throw Invalid($"Region '{name}' is a hugetlbfs memfd; huge pages are only reserved, so the daemon could fault on a page the client released. Create the memfd without MFD_HUGETLB.");
            }

            long size = SharedMemory.Size(fd);
            if (size <= 0 || size > options.MaxRegionBytes)
            {
                throw Invalid($"Region '{name}' is {size} bytes; a region holds 1 to {options.MaxRegionBytes} bytes (sharedMemory.maxRegionMiB).");
            }

            lock (_regions)
            {
                if (_disposed)
                {
                    throw new EdgeRuntimeException(ErrorCodes.ShuttingDown, "The connection is closing.");
                }

                if (_regions.ContainsKey(name))
                {
                    throw Invalid($"A region named '{name}' is already registered on this connection; unregister it first.");
                }

                if (_regions.Count >= options.MaxRegionsPerConnection)
                {
                    throw Invalid($"This connection already holds {_regions.Count} regions (sharedMemory.maxRegionsPerConnection); unregister one first.");
                }

                MappedMemory memory;
                try
                {
                    memory = SharedMemory.Map(fd, size);
                }
                catch (IOException e)
                {
                    throw Invalid($"Region '{name}' cannot be mapped for reading and writing ({e.Message}); the memfd must be open read-write and not sealed against writes.");
                }

                _regions.Add(name, new SharedRegion(name, memory));
                return new RegionRegisterResponse(name, size);
            }
        }
        finally
        {
            foreach (int descriptor in descriptors)
            {
                DescriptorPassing.Close(descriptor); // the mapping keeps the memory; the descriptor is not needed
            }
        }
    }

    public RegionUnregisterResponse Unregister(byte[] json)
    {
        string name = ProtocolJson.Deserialize(json, ProtocolJsonContext.Default.NameRequest).Name;
        SharedRegion? region;
        lock (_regions)
        {
            if (!_regions.Remove(name, out region))
            {
                throw Unknown(name);
            }
        }

        region.Release(); // requests still running with it hold their own leases
        return new RegionUnregisterResponse(name, true);
    }

    /// <summary>Leases every region <paramref name="request"/> names for the length of its run; null when it names none.</summary>
    public RegionLease? Lease(InferRequest request)
    {
        RegionLease? lease = null;
        try
        {
            foreach (var input in request.Inputs ?? [])
            {
                if (input?.Region is { } name)
                {
                    (lease ??= new RegionLease()).Add(Acquire(name));
                }
            }

            if (request.OutputRegion is { } output)
            {
                (lease ??= new RegionLease()).Add(Acquire(output.Region));
            }

            return lease;
        }
        catch
        {
            lease?.Dispose();
            throw;
        }
    }

    private SharedRegion Acquire(string name)
    {
        lock (_regions)
        {
            if (_regions.TryGetValue(name, out var region) && region.TryAcquire())
            {
                return region;
            }
        }

        throw Unknown(name);
    }

    public void Dispose()
    {
        SharedRegion[] left;
        lock (_regions)
        {
            _disposed = true;
            left = [.. _regions.Values];
            _regions.Clear();
        }

        foreach (var region in left)
        {
            region.Release();
        }
    }

    private static EdgeRuntimeException Invalid(string message) => new(ErrorCodes.RegionInvalid, message);

    private static EdgeRuntimeException Unknown(string name) =>
        new(ErrorCodes.UnknownRegion, $"No shared-memory region named '{name}' is registered on this connection (regions belong to the connection that registered them).");
}
