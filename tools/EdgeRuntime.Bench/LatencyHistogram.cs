namespace EdgeRuntime.Bench;

/// <summary>
/// Latencies in buckets 1 % wide, so a 30-minute run of millions of requests keeps a few kilobytes instead of every
/// sample; percentiles come out as a bucket's upper bound, within 1 % of the true value. Safe to add to from any thread.
/// </summary>
internal sealed class LatencyHistogram
{
    private const double Growth = 1.01;
    private static readonly double LogGrowth = Math.Log(Growth);
    private readonly long[] _counts = new long[2400]; // 1.01^2400 µs is far beyond any timeout
    private long _total;

    public long Count => Interlocked.Read(ref _total);

    public void Add(TimeSpan latency)
    {
        double us = Math.Max(1, latency.TotalMicroseconds);
        int bucket = Math.Min(_counts.Length - 1, (int)(Math.Log(us) / LogGrowth));
        Interlocked.Increment(ref _counts[bucket]);
        Interlocked.Increment(ref _total);
    }

    /// <summary>The smallest bucket bound below which <paramref name="fraction"/> of the samples lie, in µs.</summary>
    public double PercentileUs(double fraction)
    {
        long total = Count;
        if (total == 0)
        {
            return double.NaN;
        }

        long wanted = (long)Math.Ceiling(fraction * total);
        long seen = 0;
        for (int i = 0; i < _counts.Length; i++)
        {
            seen += Interlocked.Read(ref _counts[i]);
            if (seen >= wanted)
            {
                return Math.Pow(Growth, i + 1);
            }
        }

        return Math.Pow(Growth, _counts.Length);
    }
}
