using System.Buffers;

namespace EdgeRuntime.Protocol.Tests;

/// <summary>Builds ReadOnlySequences split at chosen points, the way a socket delivers bytes.</summary>
internal static class SegmentedBuffers
{
    public static ReadOnlySequence<byte> Single(byte[] bytes) => new(bytes);

    /// <summary>One segment per chunk of <paramref name="chunk"/> bytes (1 = byte at a time).</summary>
    public static ReadOnlySequence<byte> Chunked(byte[] bytes, int chunk)
    {
        if (bytes.Length == 0)
        {
            return ReadOnlySequence<byte>.Empty;
        }

        Segment? first = null, last = null;
        for (int offset = 0; offset < bytes.Length; offset += chunk)
        {
            var memory = bytes.AsMemory(offset, Math.Min(chunk, bytes.Length - offset));
            if (first is null)
            {
                first = last = new Segment(memory, 0);
            }
            else
            {
                last = last!.Append(memory);
            }
        }

        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
