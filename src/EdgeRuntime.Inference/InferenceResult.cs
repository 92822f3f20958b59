using System.Buffers;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Inference;

/// <summary>
/// The outputs of one run, laid out as a response payload in a pooled buffer. Dispose returns the buffer, so the
/// steady state allocates no output arrays.
/// </summary>
public sealed class InferenceResult : IDisposable
{
    private readonly bool _pooled;
    private byte[]? _buffer;

    /// <param name="pooled">The buffer was rented from the shared pool (false: outputs went to a shared region).</param>
    internal InferenceResult(TensorDescriptor[] outputs, byte[] buffer, int length, double inferenceUs, bool pooled = true)
    {
        Outputs = outputs;
        _pooled = pooled;
        _buffer = buffer;
        Length = length;
        InferenceUs = inferenceUs;
    }

    public TensorDescriptor[] Outputs { get; }

    public int Length { get; }

    public double InferenceUs { get; }

    /// <summary>How many requests ran in the one ONNX Runtime run that produced this (1: alone).</summary>
    public int BatchSize { get; internal init; } = 1;

    /// <summary>Microseconds the request waited for a worker.</summary>
    public double QueuedUs { get; internal set; }

    public ReadOnlyMemory<byte> Payload => _buffer is { } buffer ? buffer.AsMemory(0, Length) : throw new ObjectDisposedException(nameof(InferenceResult));

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _buffer, null) is { } buffer && _pooled)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
