using EdgeRuntime.Sensors.Replay;
using Microsoft.Extensions.Time.Testing;

namespace EdgeRuntime.Sensors.Tests;

public sealed class SensorHostTests
{
    [Fact]
    public async Task A_sensor_that_throws_is_degraded_then_recovers_when_it_works_again()
    {
        // Back-off runs on a fake clock, in minutes: a retry happens only when the test moves the clock past it.
        var clock = new FakeTimeProvider();
        var flaky = new FlakySource("env", clock);
        var log = new List<string>();
        await using var host = new SensorHost(m => { lock (log) { log.Add(m); } }, clock) { InitialBackoff = TimeSpan.FromMinutes(1), MaxBackoff = TimeSpan.FromMinutes(3) };
        host.Add(flaky, 0);
        host.Start();

        // A failure is reported after its retry is scheduled, so each back-off below counts from when it is seen.
        // The back-off doubles from one minute and stops at the three-minute maximum.
        foreach (var (failures, backoff) in new[] { (1, 60), (2, 120), (3, 180), (4, 180) })
        {
            await Eventually.TrueAsync(
                () => host.Status()[0] is { State: "failed" } s && s.Failures == failures && s.Message!.Contains($"retrying in {backoff} s", StringComparison.Ordinal),
                $"failed attempt {failures} while unplugged, retrying in {backoff} s");
            var failed = host.Status()[0];
            Assert.Equal("failed", failed.State);
            Assert.Contains("unplugged", failed.Message, StringComparison.Ordinal);
            Assert.Single(host.Problems());
            clock.Advance(TimeSpan.FromSeconds(backoff) - TimeSpan.FromMilliseconds(1));
            Assert.Equal(failures, flaky.Opens); // not retried before the back-off is over
            clock.Advance(TimeSpan.FromMilliseconds(1));
        }

        await Eventually.TrueAsync(() => host.Status()[0].Failures == 5, "failed attempt 5 while unplugged");
        flaky.Broken = false;
        clock.Advance(TimeSpan.FromMinutes(3));
        await Eventually.TrueAsync(() => host.Status()[0].State == "ok" && host.Status()[0].Readings > 0, "recovery after re-plugging");
        Assert.Equal(6, flaky.Opens);
        Assert.Empty(host.Problems());
        Assert.Equal(1.0, host.Status()[0].LastReading.Single().Value);
        lock (log)
        {
            Assert.Contains(log, m => m.Contains("recovered", StringComparison.Ordinal));
        }

        flaky.Broken = true; // and unplugged again during operation
        await Eventually.TrueAsync(() => host.Status()[0].State == "failed", "the second failure");
        Assert.Equal(6, host.Status()[0].Failures);
        Assert.Contains("retrying in 60 s", host.Status()[0].Message, StringComparison.Ordinal); // it had worked: back to one minute
        Assert.Equal(clock.GetUtcNow(), host.Status()[0].LastReadingAt); // readings are stamped by the host's clock
    }

    [Fact]
    public async Task Settling_waits_for_each_sensor_to_open_or_fail_and_names_those_that_did_neither()
    {
        var clock = new FakeTimeProvider();
        await using var host = new SensorHost(_ => { }, clock) { InitialBackoff = TimeSpan.FromHours(1) };
        host.Add(new ManualSource("mic", ["level"], 100, clock), 0);
        host.Add(new FlakySource("env", clock), 0);
        host.Add(new SilentSource("cam"), 0);
        var settling = host.WhenSettledAsync(TimeSpan.FromMinutes(1));
        host.Start();

        await Eventually.TrueAsync(() => host.Status().Count(s => s.State != "starting") == 2, "mic to open and env to fail");
        Assert.False(settling.IsCompleted); // cam is still starting, and the minute (on the host's clock) has not passed
        clock.Advance(TimeSpan.FromMinutes(1));
        string[] starting = await settling.WaitAsync(TimeSpan.FromSeconds(15)); // a wall-clock bound only, against a hang
        Assert.Equal(["cam"], starting);
        var states = host.Status().ToDictionary(s => s.Name, s => s.State);
        Assert.Equal("ok", states["mic"]);
        Assert.Equal("failed", states["env"]);
        Assert.Equal("starting", states["cam"]);
    }

    [Fact]
    public async Task A_replayed_recording_that_disappears_fails_the_sensor_and_its_return_recovers_it()
    {
        string dir = Directory.CreateTempSubdirectory("series-").FullName;
        try
        {
            string csv = Path.Combine(dir, "temps.csv");
            await File.WriteAllTextAsync(csv, "temperature,humidity\n21.5,40\n22.0,41\n");
            var source = new SeriesReplaySource(new SensorConfig { Name = "temps", Type = "series", SampleHz = 200, Loop = true }, csv);
            Assert.Equal(["temperature", "humidity"], source.Channels);
            await using var host = new SensorHost(_ => { }) { InitialBackoff = TimeSpan.FromMilliseconds(10), MaxBackoff = TimeSpan.FromMilliseconds(20) };
            host.Add(source, bufferMs: 100);
            host.Start();
            await Eventually.TrueAsync(() => host.Status()[0].Readings >= 4, "a few replayed rows");

            File.Delete(csv);
            await Eventually.TrueAsync(() => host.Status()[0].State == "failed", "the missing file to fail the sensor");
            Assert.Contains("temps.csv", host.Problems().Single(), StringComparison.Ordinal);

            await File.WriteAllTextAsync(csv, "temperature,humidity\n25,50\n");
            await Eventually.TrueAsync(() => host.Status()[0].State == "ok", "recovery once the file is back");
            await Eventually.TrueAsync(() => host.Status()[0].LastReading[0].Value == 25, "the new file's values");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task A_recording_that_ends_without_loop_is_stopped_not_failed()
    {
        string dir = Directory.CreateTempSubdirectory("series-").FullName;
        try
        {
            string csv = Path.Combine(dir, "x.csv");
            await File.WriteAllTextAsync(csv, "1\n2\n3\n");
            await using var host = new SensorHost(_ => { });
            host.Add(new SeriesReplaySource(new SensorConfig { Name = "x", Type = "series", SampleHz = 1000, Realtime = false }, csv), 0);
            host.Start();
            await Eventually.TrueAsync(() => host.Status()[0].State == "stopped", "the end of the recording");
            Assert.Equal(3, host.Status()[0].Readings);
            Assert.Empty(host.Problems());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
