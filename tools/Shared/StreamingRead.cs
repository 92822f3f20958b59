using System.Diagnostics;
using System.Runtime.Intrinsics;

namespace EdgeRuntime.Tools;

/// <summary>Reads a buffer much larger than the caches with SIMD on N threads: the memory bandwidth a streaming kernel can hope for.</summary>
internal static unsafe class StreamingRead
{
    public static double GigabytesPerSecond(int threads, int megabytes)
    {
        long bytes = (long)megabytes * 1024 * 1024;
        var buffer = GC.AllocateUninitializedArray<byte>((int)bytes, pinned: true);
        new Random(1).NextBytes(buffer.AsSpan(0, 4096));
        for (long i = 4096; i < bytes; i += 4096)
        {
            buffer[i] = 1;
        }

        // Each thread reads its slice with four independent 32-byte loads per step and no bounds checks, so the loop is
        // never what limits it: one bounds-checked load per step read 26-28 GB/s on a 2-vCPU EPYC whose BitLinear
        // kernel streamed 28 GB/s, which made bandwidth percentages above 100.
        long slice = bytes / threads / 128 * 128;
        double best = 0;
        fixed (byte* start = buffer)
        {
            byte* data = start;
            for (int round = 0; round < 5; round++)
            {
                var sums = new byte[threads];
                long begin = Stopwatch.GetTimestamp();
                Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t => sums[t] = Read(data + (t * slice), slice));
                double seconds = Stopwatch.GetElapsedTime(begin).TotalSeconds;
                best = Math.Max(best, slice * threads / seconds / 1e9);
            }
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
