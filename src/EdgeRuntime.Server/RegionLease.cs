using EdgeRuntime.Inference;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Server;

/// <summary>The regions one request uses, held until it has run.</summary>
internal sealed class RegionLease : ITensorRegions, IDisposable
{
    private readonly List<SharedRegion> _held = [];

    public void Add(SharedRegion region)
    {
        if (_held.Exists(r => ReferenceEquals(r, region)))
        {
            region.Release(); // one lease per region is enough
            return;
        }

        _held.Add(region);
    }

    public Memory<byte> Get(string name) =>
        _held.Find(r => r.Name == name)?.Memory
        ?? throw new EdgeRuntimeException(ErrorCodes.UnknownRegion, $"No shared-memory region named '{name}' is registered on this connection.");

    public void Dispose()
    {
        foreach (var region in _held)
        {
            region.Release();
        }

        _held.Clear();
    }
}
