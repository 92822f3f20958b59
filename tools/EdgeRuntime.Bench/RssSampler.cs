using System.Diagnostics;

namespace EdgeRuntime.Bench;

/// <summary>Samples a daemon's resident memory on a timer while a phase runs: the peak, and a trace for soak-rss.csv.</summary>
internal sealed class RssSampler : IDisposable
{
    private readonly DaemonProcess _daemon;
    private readonly Stopwatch _clock;
    private readonly List<(double Seconds, double Mb)> _trace;
    private readonly Timer _timer;
    private readonly Lock _gate = new();
    private double _peak;

    public RssSampler(DaemonProcess daemon, Stopwatch clock, List<(double Seconds, double Mb)> trace, TimeSpan? every = null)
    {
        _daemon = daemon;
        _clock = clock;
        _trace = trace;
        var period = every ?? TimeSpan.FromSeconds(1);
        _timer = new Timer(_ => Sample(), null, period, period);
    }

    public double PeakMb
    {
        get
        {
            lock (_gate)
            {
                return _peak;
            }
        }
    }

    public void Dispose()
    {
        using var stopped = new ManualResetEvent(false);
        _timer.Dispose(stopped);
        stopped.WaitOne();
        Sample();
    }

    private void Sample()
    {
        double mb = _daemon.RssMb();
        lock (_gate)
        {
            _peak = Math.Max(_peak, mb);
            _trace.Add((_clock.Elapsed.TotalSeconds, mb));
        }
    }
}
