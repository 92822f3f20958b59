using System.Diagnostics;
using Microsoft.Extensions.Time.Testing;

namespace EdgeRuntime.Sensors.Tests;

public sealed class SampleRingTests
{
    private static readonly long Ms = Stopwatch.Frequency / 1000;

    [Fact]
    public void A_window_holds_exactly_the_frames_taken_in_its_span()
    {
        var ring = new SampleRing(channels: 1, capacityFrames: 1000);
        // 100 blocks of 10 samples at 1 kHz: sample n is taken at n ms and has value n.
        for (int block = 0; block < 100; block++)
        {
            float[] values = [.. Enumerable.Range(block * 10, 10).Select(v => (float)v)];
            ring.Write(new SensorFrame(((block * 10) + 9) * Ms, values, 1), sampleRate: 1000);
        }

        // (500, 700] ms: 200 ms at 1 kHz is 200 frames; the one taken at exactly 500 ms belongs to the window before.
        float[] window = ring.Copy(500 * Ms, 700 * Ms);
        Assert.Equal(Enumerable.Range(501, 200).Select(v => (float)v), window);
    }

    [Fact]
    public void Old_frames_are_overwritten_and_no_longer_returned()
    {
        var ring = new SampleRing(channels: 2, capacityFrames: 5);
        for (int i = 0; i < 12; i++)
        {
            ring.Write(new SensorFrame(i * Ms, new float[] { i, -i }, 2), sampleRate: 0);
        }

        Assert.Equal([7f, -7f, 8f, -8f, 9f, -9f, 10f, -10f, 11f, -11f], ring.Copy(0, 100 * Ms));
        Assert.Equal(11 * Ms, ring.NewestTimestamp);
        Assert.Empty(ring.Copy(20 * Ms, 30 * Ms)); // all older than the span
        Assert.Empty(ring.Copy(0, 6 * Ms));        // all newer: those frames were overwritten
    }

    [Fact]
    public void The_newest_frame_comes_whole_with_its_time()
    {
        var ring = new SampleRing(channels: 3, capacityFrames: 2);
        Assert.Empty(ring.CopyNewest(out long none));
        Assert.Equal(long.MinValue, none);
        for (int i = 1; i <= 3; i++)
        {
            ring.Write(new SensorFrame(i * Ms, new float[] { i, 10 * i, 100 * i }, 3), sampleRate: 0);
        }

        Assert.Equal([3f, 30f, 300f], ring.CopyNewest(out long taken));
        Assert.Equal(3 * Ms, taken);
    }

    [Fact]
    public void A_frame_with_the_wrong_channel_count_is_refused()
    {
        var ring = new SampleRing(channels: 3, capacityFrames: 4);
        Assert.Throws<ArgumentException>(() => ring.Write(new SensorFrame(0, new float[] { 1, 2 }, 2), 0));
    }

    [Fact]
    public async Task WaitFor_completes_when_a_frame_at_the_time_arrives_and_times_out_otherwise()
    {
        // The ring's clock is a fake one: its timeouts pass only when the test moves it, so each outcome is certain.
        // The wall-clock bounds on the awaits only keep a broken ring from hanging the test.
        var clock = new FakeTimeProvider();
        long ms = clock.TimestampFrequency / 1000;
        var ring = new SampleRing(channels: 1, capacityFrames: 10, clock);

        var early = ring.WaitForAsync(5 * ms, TimeSpan.FromSeconds(10), default);
        ring.Write(new SensorFrame(3 * ms, new float[] { 1 }, 1), 0); // from before the time: the wait goes on
        clock.Advance(TimeSpan.FromSeconds(10));
        Assert.False(await early.WaitAsync(TimeSpan.FromSeconds(15)), "a frame from before the time ended the wait");

        var late = ring.WaitForAsync(5 * ms, TimeSpan.FromSeconds(10), default);
        ring.Write(new SensorFrame(5 * ms, new float[] { 2 }, 1), 0);
        Assert.True(await late.WaitAsync(TimeSpan.FromSeconds(15)));

        var never = ring.WaitForAsync(100 * ms, TimeSpan.FromMinutes(30), default);
        clock.Advance(TimeSpan.FromMinutes(30) - TimeSpan.FromMilliseconds(1));
        Assert.False(never.IsCompleted); // the timeout runs on the ring's clock: not yet
        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.False(await never.WaitAsync(TimeSpan.FromSeconds(15)));
    }
}
