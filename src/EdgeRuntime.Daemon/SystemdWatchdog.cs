using System.Globalization;

namespace EdgeRuntime.Daemon;

/// <summary>
/// Pings systemd's watchdog (WATCHDOG=1) at half the interval the unit's WatchdogSec= sets, while the daemon is
/// healthy. The ping runs on the thread pool that serves requests, so a starved pool stops it too; the health check
/// stops it when inference is stuck. Either way systemd restarts edged.
/// </summary>
internal sealed class SystemdWatchdog : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    private SystemdWatchdog(TimeSpan interval, Func<TimeSpan, bool> healthy, Action<string> report, TimeProvider timeProvider)
    {
        Interval = interval;
        _loop = RunAsync(interval, healthy, report, timeProvider, _stop.Token);
    }

    public TimeSpan Interval { get; }

    /// <summary>
    /// Starts pinging when systemd asked for a watchdog for this process; null otherwise. <paramref name="healthy"/>
    /// gets the watchdog timeout; <paramref name="report"/> hears why pings stopped; <paramref name="timeProvider"/>
    /// times the pings.
    /// </summary>
    public static SystemdWatchdog? StartIfRequested(Func<TimeSpan, bool> healthy, Action<string> report, TimeProvider timeProvider)
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

        return new SystemdWatchdog(TimeSpan.FromMicroseconds(microseconds / 2.0), healthy, report, timeProvider);
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

    private static async Task RunAsync(TimeSpan interval, Func<TimeSpan, bool> healthy, Action<string> report, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(interval, timeProvider);
        bool wasHealthy = true;
        do
        {
            bool isHealthy = healthy(interval * 2);
            if (isHealthy != wasHealthy)
            {
                report(isHealthy ? "inference is moving again; watchdog pings resumed" : "inference has made no progress; watchdog pings withheld so systemd restarts edged");
                wasHealthy = isHealthy;
            }

            if (!isHealthy)
            {
                continue;
            }

            try
            {
                SystemdNotifier.Notify("WATCHDOG=1");
            }
            catch (Exception e) when (e is System.Net.Sockets.SocketException or ObjectDisposedException)
            {
                // A lost ping is retried next tick; systemd acts only after a whole timeout without one.
                report($"watchdog ping failed: {e.Message}");
            }
        }
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false));
    }
}
