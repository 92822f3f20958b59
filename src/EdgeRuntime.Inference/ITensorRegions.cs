using EdgeRuntime.Protocol;

namespace EdgeRuntime.Inference;

/// <summary>
/// Memory a request's tensors may live in besides its payload: the shared regions of the connection that sent it,
/// held for the whole run by whoever passes this in.
/// </summary>
public interface ITensorRegions
{
    /// <summary>The region's bytes.</summary>
    /// <exception cref="EdgeRuntimeException"><see cref="ErrorCodes.UnknownRegion"/>.</exception>
    Memory<byte> Get(string name);
}
