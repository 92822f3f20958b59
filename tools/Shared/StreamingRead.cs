using System.Diagnostics;
using System.Runtime.Intrinsics;

namespace EdgeRuntime.Tools;

/// <summary>
/// Reads a buffer much larger than the caches with SIMD on N threads: the memory bandwidth a streaming kernel can hope
/// for. <see cref="GigabytesPerSecond"/> measures it once; a <see cref="StreamingRead"/> instance keeps its buffer so a
/// benchmark can time a pass between its kernel's runs, where this machine's bandwidth (which drifts by tens of
/// percent from minute to minute) is the same for both.
/// </summary>
internal sealed unsafe class StreamingRead
{
    private readonly byte[] _buffer;

    public StreamingRead(long bytes)
    {
        _buffer = GC.AllocateUninitializedArray<byte>(checked((int)bytes), pinned: true);
        new Random(1).NextBytes(_buffer.AsSpan(0, Math.Min(4096, _buffer.Length)));
        for (long i = 4096; i < bytes; i += 4096)
        {
            _buffer[i] = 1;
        }
    }

    public long Bytes => _buffer.Length;

    /// <summary>One pass over the whole buffer, split into equal slices over <paramref name="threads"/>; seconds.</summary>
    public double PassSeconds(int threads)
    {
        // Each thread reads its slice with four independent 32-byte loads per step and no bounds checks, so the loop is
        // never what limits it: one bounds-checked load per step read 26-28 GB/s on a 2-vCPU EPYC whose BitLinear
        // kernel streamed 28 GB/s, which made bandwidth percentages above 100.
        long slice = Bytes / threads / 128 * 128;
        var sums = new byte[threads];
        fixed (byte* start = _buffer)
        {
            byte* data = start;
            long begin = Stopwatch.GetTimestamp();
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t => sums[t] = Read(data + (t * slice), slice));
            return Stopwatch.GetElapsedTime(begin).TotalSeconds * Bytes / (slice * threads);
        }
    }

    /// <summary>The best of five passes over <paramref name="megabytes"/> MiB, in GB/s.</summary>
    public static double GigabytesPerSecond(int threads, int megabytes)
    {
        var read = new StreamingRead((long)megabytes * 1024 * 1024);
        double best = 0;
        for (int round = 0; round < 5; round++)
        {
            best = Math.Max(best, read.Bytes / read.PassSeconds(threads) / 1e9);
        }

        return best;
    }

    private static byte Read(byte* p, long length)
    {
        byte* end = p + length;
        Vector256<byte> a0 = default, a1 = default, a2 = default, a3 = default;
        for (; p < end; p += 128)
        {
            a0 |= Vector256.Load(p);
            a1 |= Vector256.Load(p + 32);
            a2 |= Vector256.Load(p + 64);
            a3 |= Vector256.Load(p + 96);
        }

        return (a0 | a1 | a2 | a3)[0];
    }
}
