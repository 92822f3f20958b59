using EdgeRuntime.Transport;

namespace EdgeRuntime.Client;

/// <summary>
/// Memory this process shares with edged: a sealed memfd mapped here and, once registered, in the daemon. Tensors
/// written into <see cref="Memory"/> reach the model without crossing the socket. Made by
/// <see cref="EdgeClient.RegisterRegionAsync"/>; Dispose unmaps it here (unregister it first to free the daemon's side,
/// or close the connection).
/// </summary>
public sealed class SharedMemoryRegion : IDisposable
{
    private readonly MappedMemory _mapping;

    internal SharedMemoryRegion(string name, MappedMemory mapping)
    {
        Name = name;
        _mapping = mapping;
    }

    public string Name { get; }

    public int Size => _mapping.Size;

    /// <summary>The shared bytes. Do not change an input's bytes, or read an output's, while a request using them runs.</summary>
    public Memory<byte> Memory => _mapping.Memory;

    /// <summary>Held by <see cref="EdgeClient.InferAsync(string, IReadOnlyList{EdgeRuntime.Formats.Tensor}, SharedMemoryRegion, IReadOnlyList{string}?, CancellationToken)"/>, which lays every request out from offset 0: one request at a time.</summary>
    internal SemaphoreSlim LayoutGate { get; } = new(1, 1);

    public void Dispose() => ((IDisposable)_mapping).Dispose();
}
