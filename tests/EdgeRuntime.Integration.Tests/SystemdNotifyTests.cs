namespace EdgeRuntime.Integration.Tests;

/// <summary>edged speaks sd_notify to a datagram socket the test holds, as systemd's would be for Type=notify.</summary>
public sealed class SystemdNotifyTests
{
    [Fact]
    public async Task Edged_reports_ready_then_pings_the_watchdog_and_says_when_it_stops()
    {
        string directory = EdgedProcess.Prepare();
        // WATCHDOG_USEC=200000: systemd expects a ping at least every 200 ms, so edged pings every 100 ms.
        using var notify = new NotifySocket(directory, watchdogMicroseconds: 200_000);
        await using var edged = await EdgedProcess.StartCommandAsync(directory, Paths.Edged, [], TimeSpan.FromSeconds(30), notify.Environment);
        var messages = await notify.ReceiveUntilPingsAsync(3, TimeSpan.FromSeconds(10));

        Assert.StartsWith("READY=1", messages[0], StringComparison.Ordinal);
        Assert.True(await edged.WaitForLogAsync("systemd watchdog: pinging every 0.1 s"), edged.Log);

        Assert.Equal(0, await edged.StopAsync());
        using var late = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        string last;
        do
        {
            last = await notify.ReceiveAsync(late.Token);
        }
        while (last == "WATCHDOG=1");
        Assert.Equal("STOPPING=1", last);
    }

    [Fact]
    public async Task A_watchdog_meant_for_another_process_is_not_pinged()
    {
        string directory = EdgedProcess.Prepare();
        var environment = new Dictionary<string, string> { ["WATCHDOG_USEC"] = "200000", ["WATCHDOG_PID"] = "1" };
        await using var edged = await EdgedProcess.StartCommandAsync(directory, Paths.Edged, [], TimeSpan.FromSeconds(30), environment);
        var status = await edged.EdgectlAsync("status");
        Assert.True(status.ExitCode == 0, status.All);
        Assert.DoesNotContain("systemd watchdog", edged.Log, StringComparison.Ordinal);
    }
}
