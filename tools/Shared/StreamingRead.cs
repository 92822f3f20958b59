using System.Diagnostics;
using System.Runtime.Intrinsics;

namespace EdgeRuntime.Tools;

/// <summary>Reads a buffer much larger than the caches with SIMD on N threads: the memory bandwidth a streaming kernel can hope for.</summary>
internal static class StreamingRead
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

        double best = 0;
        for (int round = 0; round < 5; round++)
        {
            long start = Stopwatch.GetTimestamp();
            long slice = bytes / threads;
            var sums = new long[threads];
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
            {
                var span = buffer.AsSpan((int)(t * slice), (int)slice);
                var acc = Vector256<byte>.Zero;
                for (int i = 0; i + 32 <= span.Length; i += 32)
                {
                    acc |= Vector256.Create<byte>(span.Slice(i, 32));
                }

                sums[t] = acc[0];
            });
            double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            best = Math.Max(best, bytes / seconds / 1e9);
        }

        return best;
    }
}
