using EdgeRuntime.Sensors.Replay;

namespace EdgeRuntime.Sensors.Tests;

public sealed class SensorHostTests
{
    [Fact]
    public async Task A_sensor_that_throws_is_degraded_then_recovers_when_it_works_again()
    {
        var flaky = new FlakySource("env");
        var log = new List<string>();
        await using var host = new SensorHost(m => { lock (log) { log.Add(m); } }) { InitialBackoff = TimeSpan.FromMilliseconds(10), MaxBackoff = TimeSpan.FromMilliseconds(40) };
        host.Add(flaky, 0);
        host.Start();

        // Counted failures, not attempts: an attempt that has opened but not yet thrown could still succeed below.
        await Eventually.TrueAsync(() => host.Status()[0].Failures >= 3, "three failed attempts while unplugged");
        var failed = host.Status()[0];
        Assert.Equal("failed", failed.State);
        Assert.Contains("unplugged", failed.Message, StringComparison.Ordinal);
        Assert.Contains("retrying in", failed.Message, StringComparison.Ordinal);
        Assert.Single(host.Problems());

        flaky.Broken = false;
        await Eventually.TrueAsync(() => host.Status()[0].State == "ok" && host.Status()[0].Readings > 0, "recovery after re-plugging");
        Assert.Empty(host.Problems());
        Assert.Equal(1.0, host.Status()[0].LastReading.Single().Value);
        lock (log)
        {
            Assert.Contains(log, m => m.Contains("recovered", StringComparison.Ordinal));
        }

        flaky.Broken = true; // and unplugged again during operation
        await Eventually.TrueAsync(() => host.Status()[0].State == "failed", "the second failure");
        Assert.True(host.Status()[0].Failures >= 4);
    }

    [Fact]
    public async Task Settling_waits_for_each_sensor_to_open_or_fail_and_names_those_that_did_neither()
    {
        await using var host = new SensorHost(_ => { }) { InitialBackoff = TimeSpan.FromSeconds(10) };
        host.Add(new ManualSource("mic", ["level"], 100), 0);
        host.Add(new FlakySource("env"), 0);
        host.Add(new SilentSource("cam"), 0);
        host.Start();

        string[] starting = await host.WhenSettledAsync(TimeSpan.FromMilliseconds(300));
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
