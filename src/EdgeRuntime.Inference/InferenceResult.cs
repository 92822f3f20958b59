using System.Buffers;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Inference;

/// <summary>
/// The outputs of one run, laid out as a response payload in a pooled buffer. Dispose returns the buffer, so the
/// steady state allocates no output arrays.
/// </summary>
public sealed class InferenceResult : IDisposable
{
    private byte[]? _buffer;

    internal InferenceResult(TensorDescriptor[] outputs, byte[] buffer, int length, double inferenceUs)
    {
        Outputs = outputs;
        _buffer = buffer;
        Length = length;
        InferenceUs = inferenceUs;
    }

    public TensorDescriptor[] Outputs { get; }

    public int Length { get; }

    public double InferenceUs { get; }

    /// <summary>Microseconds the request waited for a worker.</summary>
    public double QueuedUs { get; internal set; }

    public ReadOnlyMemory<byte> Payload => _buffer is { } buffer ? buffer.AsMemory(0, Length) : throw new ObjectDisposedException(nameof(InferenceResult));

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _buffer, null) is { } buffer)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
