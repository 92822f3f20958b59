using System.Globalization;

namespace EdgeRuntime.Daemon;

/// <summary>
/// Pings systemd's watchdog (WATCHDOG=1) at half the interval the unit's WatchdogSec= sets. The ping runs on the
/// thread pool, the same pool that serves requests: if requests starve it, the pings stop and systemd restarts edged.
/// </summary>
internal sealed class SystemdWatchdog : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    private SystemdWatchdog(TimeSpan interval, Func<bool> healthy)
    {
        Interval = interval;
        _loop = RunAsync(interval, healthy, _stop.Token);
    }

    public TimeSpan Interval { get; }

    /// <summary>Starts pinging when systemd asked for a watchdog for this process; null otherwise.</summary>
    public static SystemdWatchdog? StartIfRequested(Func<bool> healthy)
    {
        string? usec = Environment.GetEnvironmentVariable("WATCHDOG_USEC");
        string? pid = Environment.GetEnvironmentVariable("WATCHDOG_PID");
        if (string.IsNullOrEmpty(usec) || !long.TryParse(usec, NumberStyles.None, CultureInfo.InvariantCulture, out long microseconds) || microseconds <= 0)
        {
            return null;
        }

        // WATCHDOG_PID names the process the watchdog is meant for; a child that inherited the variables is not it.
        if (!string.IsNullOrEmpty(pid) && pid != Environment.ProcessId.ToString(CultureInfo.InvariantCulture))
        {
            return null;
        }

        return new SystemdWatchdog(TimeSpan.FromMicroseconds(microseconds / 2.0), healthy);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopped.
        }

        _stop.Dispose();
    }

    private static async Task RunAsync(TimeSpan interval, Func<bool> healthy, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(interval);
        do
        {
            if (healthy())
            {
                SystemdNotifier.Notify("WATCHDOG=1");
            }
        }
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false));
    }
}
