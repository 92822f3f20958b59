using System.Diagnostics;
using EdgeRuntime.Sensors.Gpio;

namespace EdgeRuntime.Sensors.Tests;

/// <summary>What live pipeline runs need of a sensor: reading its ring by position, hearing when it breaks, and holding it.</summary>
public sealed class LiveReadingTests
{
    private static readonly long Ms = Stopwatch.Frequency / 1000;

    private static SampleRing RingOf(int frames, int capacity = 100)
    {
        var ring = new SampleRing(channels: 1, capacityFrames: capacity);
        for (int i = 0; i < frames; i++)
        {
            ring.Write(new SensorFrame(i * Ms, new float[] { i }, 1), sampleRate: 0);
        }

        return ring;
    }

    [Fact]
    public void Frames_are_read_by_position_until_they_are_overwritten()
    {
        var ring = RingOf(frames: 12, capacity: 5);
        var into = new float[3];
        Assert.Equal(12, ring.Written);
        Assert.Equal(RingRead.Copied, ring.TryCopy(8, 3, into, out long taken));
        Assert.Equal([8f, 9f, 10f], into);
        Assert.Equal(10 * Ms, taken);
        Assert.Equal(RingRead.NotYet, ring.TryCopy(10, 3, into, out _));
        Assert.Equal(RingRead.Overwritten, ring.TryCopy(6, 3, into, out _));

        // Where a run starting at a moment begins: the first frame taken after it, or the next to come; and whether
        // frames after the moment were already overwritten (then the window would start late).
        Assert.Equal(9, ring.FirstIndexAfter((8 * Ms) + 1, out bool complete));
        Assert.True(complete);
        Assert.Equal(7, ring.FirstIndexAfter(0, out complete)); // frames 1..6 were taken after 0 and are gone
        Assert.False(complete);
        Assert.Equal(12, ring.FirstIndexAfter(50 * Ms, out complete));
        Assert.True(complete);
        Assert.Equal(0, RingOf(frames: 3).FirstIndexAfter(-100 * Ms, out complete)); // before the stream began: its start
        Assert.True(complete);
    }

    [Fact]
    public async Task A_reader_is_woken_only_when_its_frames_are_in()
    {
        var ring = RingOf(frames: 3);
        var waiting = ring.WaitForCountAsync(6, TimeSpan.FromSeconds(10), CancellationToken.None);
        ring.Write(new SensorFrame(3 * Ms, new float[] { 3, 4 }, 1), sampleRate: 1000);
        await Task.Delay(50);
        Assert.False(waiting.IsCompleted);
        ring.Write(new SensorFrame(5 * Ms, new float[] { 5 }, 1), sampleRate: 0);
        Assert.True(await waiting.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.False(await ring.WaitForCountAsync(7, TimeSpan.FromMilliseconds(30), CancellationToken.None));
    }

    [Fact]
    public async Task A_broken_stream_fails_its_waiting_readers_until_it_reopens()
    {
        var ring = RingOf(frames: 3);
        var waiting = ring.WaitForCountAsync(10, TimeSpan.FromSeconds(10), CancellationToken.None);
        ring.Fault(new SensorStreamException("mic", "failed: unplugged"));
        var e = await Assert.ThrowsAsync<SensorStreamException>(() => waiting);
        Assert.Equal("sensor 'mic' failed: unplugged", e.Message);
        await Assert.ThrowsAsync<SensorStreamException>(() => ring.WaitForCountAsync(10, TimeSpan.FromSeconds(1), CancellationToken.None));
        Assert.True(await ring.WaitForCountAsync(2, TimeSpan.FromSeconds(1), CancellationToken.None)); // what is in stays readable
        ring.ClearFault();
        Assert.False(await ring.WaitForCountAsync(10, TimeSpan.FromMilliseconds(20), CancellationToken.None));
    }

    [Fact]
    public async Task An_on_demand_camera_captures_only_while_held()
    {
        string folder = Directory.CreateTempSubdirectory("edgeruntime-ondemand-").FullName;
        try
        {
            for (int i = 0; i < 3; i++)
            {
                await File.WriteAllBytesAsync(Path.Combine(folder, $"{i}.pgm"), [.. "P5\n2 2\n255\n"u8.ToArray(), 1, 2, 3, 4]);
            }

            using var chips = new GpioChips(null);
            await using var host = new SensorHost(_ => { });
            var config = new SensorConfig { Name = "cam", Type = "images", Path = folder, SampleHz = 50, Loop = true, OnDemand = true };
            host.Add(SensorFactory.Create(config, chips, folder), bufferMs: 0, onDemand: true);
            host.Start();
            await Eventually.TrueAsync(() => host.Status()[0].State == "paused", "the camera to open paused");
            await Task.Delay(100);
            Assert.Equal(0, host.Status()[0].Readings);

            var hold = host.Acquire("cam");
            await Eventually.TrueAsync(() => host.Status()[0].Readings >= 3, "frames while held");
            Assert.Equal(("ok", 1), (host.Status()[0].State, host.Status()[0].Readers));
            double pausedWhileHeld = host.Status()[0].PausedSeconds!.Value;
            hold.Dispose();
            hold.Dispose(); // letting go twice counts once
            await Task.Delay(60);
            long readings = host.Status()[0].Readings;
            await Task.Delay(200);
            var status = host.Status()[0];
            Assert.Equal(("paused", 0, readings), (status.State, status.Readers, status.Readings));
            Assert.True(status.PausedSeconds - pausedWhileHeld >= 0.2, $"paused {pausedWhileHeld} -> {status.PausedSeconds} s");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void Only_a_camera_can_capture_on_demand_and_a_ring_grows_to_what_readers_need()
    {
        using var chips = new GpioChips(null);
        var wav = new SensorConfig { Name = "mic", Type = "wav", Path = "a.wav", OnDemand = true };
        var e = Assert.Throws<ArgumentException>(() => SensorFactory.Create(wav, chips, "/"));
        Assert.Contains("\"onDemand\" applies to cameras", e.Message, StringComparison.Ordinal);

        var host = new SensorHost(_ => { });
        host.Add(new ManualSource("s", ["v"], 1000), bufferMs: 100);
        var ring = host.Ring("s")!;
        Assert.Equal(100, ring.Capacity);
        for (int i = 0; i < 150; i++)
        {
            ring.Write(new SensorFrame(i * Ms, new float[] { i }, 1), sampleRate: 0);
        }

        // Grown in place: whoever holds the ring (a trigger's window) keeps it, and what it held is still there.
        Assert.Same(ring, host.EnsureRing("s", 1000));
        Assert.Equal(1000, ring.Capacity);
        var into = new float[100];
        Assert.Equal(RingRead.Copied, ring.TryCopy(50, 100, into, out long taken));
        Assert.Equal(Enumerable.Range(50, 100).Select(v => (float)v), into);
        Assert.Equal(149 * Ms, taken);
        ring.Write(new SensorFrame(150 * Ms, new float[] { 150 }, 1), sampleRate: 0);
        Assert.Equal(RingRead.Copied, ring.TryCopy(150, 1, into, out _));
        Assert.Equal(150f, into[0]);
        Assert.Same(ring, host.EnsureRing("s", 500));
        Assert.Equal(1000, ring.Capacity);
    }
}
