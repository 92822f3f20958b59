namespace EdgeRuntime.Inference;

/// <summary>Counts requests and keeps the most recent latencies in a fixed ring, so percentiles cost no growing memory.</summary>
public sealed class LatencyRecorder
{
    private const int WindowSize = 8192;
    private readonly double[] _window = new double[WindowSize];
    private readonly Lock _gate = new();
    private long _count;
    private long _errors;
    private double _sum;

    public void RecordSuccess(double microseconds)
    {
        lock (_gate)
        {
            _window[_count % WindowSize] = microseconds;
            _count++;
            _sum += microseconds;
        }
    }

    public void RecordError()
    {
        Interlocked.Increment(ref _errors);
    }

    public LatencySnapshot Snapshot()
    {
        double[] recent;
        long count;
        double sum;
        lock (_gate)
        {
            count = _count;
            sum = _sum;
            recent = _window.AsSpan(0, (int)Math.Min(count, WindowSize)).ToArray();
        }

        Array.Sort(recent);
        return new LatencySnapshot(
            count,
            Interlocked.Read(ref _errors),
            count == 0 ? 0 : sum / count,
            Percentile(recent, 0.50),
            Percentile(recent, 0.99));
    }

    /// <summary>Nearest-rank percentile of sorted values; 0 when there are none.</summary>
    public static double Percentile(ReadOnlySpan<double> sorted, double fraction)
    {
        if (sorted.IsEmpty)
        {
            return 0;
        }

        int rank = (int)Math.Ceiling(fraction * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }
}

public readonly record struct LatencySnapshot(long Count, long Errors, double MeanUs, double P50Us, double P99Us);
