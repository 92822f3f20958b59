using EdgeRuntime.Protocol;
using EdgeRuntime.Formats;

namespace EdgeRuntime.Client;

/// <summary>The outputs of one inference, with the daemon's timing and the round trip the client measured.</summary>
public sealed record InferResult(IReadOnlyList<Tensor> Outputs, InferTiming Timing, TimeSpan RoundTrip)
{
    public Tensor this[string name] => Outputs.FirstOrDefault(o => o.Name == name)
        ?? throw new KeyNotFoundException($"No output named '{name}'; outputs: {string.Join(", ", Outputs.Select(o => o.Name))}.");
}
