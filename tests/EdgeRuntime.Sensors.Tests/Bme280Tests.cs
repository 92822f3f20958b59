using System.Diagnostics;
using EdgeRuntime.Sensors.Bme280;
using Microsoft.Extensions.Time.Testing;

namespace EdgeRuntime.Sensors.Tests;

public sealed class Bme280Tests
{
    // Resolution at the binding's x1 oversampling is about 0.005 °C, 2.6 Pa and 0.006 %RH; these allow a couple of
    // steps, and are far below what a wrong formula, calibration word or byte order would produce.
    private const double TemperatureTolerance = 0.01;
    private const double PressureTolerance = 0.03;
    private const double HumidityTolerance = 0.02;

    [Theory]
    [InlineData(21.5, 1013.25, 45.0)]
    [InlineData(-12.3, 987.6, 80.5)]
    [InlineData(-39.75, 300.5, 3.0)]
    [InlineData(84.9, 1099.0, 99.0)]
    [InlineData(0.0, 850.0, 0.0)]
    public async Task Injected_values_are_read_back_through_the_binding(double temperature, double pressure, double humidity)
    {
        var source = SimulatedSource();
        source.InjectValues([new("temperature", temperature), new("pressure", pressure), new("humidity", humidity)]);

        await using var run = SourceRun.Start(source);
        await run.WaitForFramesAsync(3);
        var frames = await run.StopAsync();

        Assert.True(frames.Length >= 3);
        Assert.All(frames, frame =>
        {
            Assert.Equal(3, frame.Length);
            Assert.Equal(temperature, frame[0], TemperatureTolerance);
            Assert.Equal(pressure, frame[1], PressureTolerance);
            Assert.Equal(humidity, frame[2], HumidityTolerance);
        });
    }

    [Fact]
    public async Task Values_injected_while_running_show_up_in_later_frames()
    {
        var source = SimulatedSource();
        await using var run = SourceRun.Start(source);
        var before = await run.WaitForFramesAsync(1);
        Assert.Equal(21.0, before[0][0], TemperatureTolerance); // the simulator's default room
        long transfers = source.Simulator!.TransferCount;

        source.InjectValues([new("temperature", -5.25), new("humidity", 12.5)]);
        var after = await run.WaitForAsync(f => Math.Abs(f[0] - -5.25) < TemperatureTolerance);

        Assert.Equal(1013.25, after[1], PressureTolerance); // not injected: unchanged
        Assert.Equal(12.5, after[2], HumidityTolerance);
        Assert.True(source.Simulator.TransferCount > transfers);
    }

    [Fact]
    public async Task The_binding_leaves_the_chip_configured_for_x1_oversampling_and_asleep_between_forced_conversions()
    {
        var source = SimulatedSource();
        await using (var run = SourceRun.Start(source))
        {
            await run.WaitForFramesAsync(2);
            await run.StopAsync();
        }

        // The chip must go back to sleep mode by itself once the last conversion Read() started is over (a few ms on
        // the wall clock the binding sleeps by): wait for that, not for a fixed time.
        var chip = source.Simulator!;
        await Eventually.TrueAsync(() => ReadRegister(chip, 0xF3) == 0, "the last conversion to end");
        Assert.Equal(0b001_001_00, ReadRegister(chip, 0xF4)); // osrs_t x1, osrs_p x1, mode sleep
        Assert.Equal(0b001, ReadRegister(chip, 0xF2)); // osrs_h x1
        Assert.Equal(0, ReadRegister(chip, 0xF3)); // not measuring
    }

    [Fact]
    public void A_forced_conversion_reports_measuring_latches_the_data_when_done_and_returns_to_sleep()
    {
        var clock = new FakeTimeProvider();
        var chip = new SimulatedBme280(timeProvider: clock) { TemperatureCelsius = 30.0 };
        chip.Write([0xF2, 0b101]); // osrs_h x16
        chip.Write([0xF4, 0b101_101_10]); // osrs_t x16, osrs_p x16, forced: about 98 ms

        Assert.Equal(0b1000, ReadRegister(chip, 0xF3));
        Span<byte> data = stackalloc byte[8];
        chip.WriteRead([0xF7], data);
        Assert.Equal(new byte[] { 0x80, 0x00, 0x00, 0x80, 0x00, 0x00, 0x80, 0x00 }, data.ToArray()); // still the reset values

        // Datasheet 9.1: 1 + 2·16 + (2·16 + 0.5) + (2·16 + 0.5) = 98 ms, on the chip's (fake) clock.
        clock.Advance(TimeSpan.FromMilliseconds(97.9));
        Assert.Equal(0b1000, ReadRegister(chip, 0xF3));
        chip.WriteRead([0xF7], data);
        Assert.Equal(0x80, data[3]); // nothing latched yet
        clock.Advance(TimeSpan.FromMilliseconds(0.1));
        Assert.Equal(0, ReadRegister(chip, 0xF3));
        Assert.Equal(0b101_101_00, ReadRegister(chip, 0xF4)); // back to sleep, oversampling kept
        chip.WriteRead([0xF7], data);
        Assert.NotEqual(0x80, data[3]); // a real temperature word now
    }

    [Fact]
    public void The_register_file_auto_increments_on_read_takes_register_value_pairs_on_write_and_ignores_read_only_registers()
    {
        var chip = new SimulatedBme280();
        Span<byte> two = stackalloc byte[2];

        chip.WriteRead([0x88], two);
        Assert.Equal(27504, two[0] | (two[1] << 8)); // dig_T1, little-endian, read in one burst
        Assert.Equal(0x60, ReadRegister(chip, 0xD0));

        chip.Write([0xF2, 0x03, 0xF5, 0xA0]); // two pairs in one transfer
        Assert.Equal(0x03, ReadRegister(chip, 0xF2));
        Assert.Equal(0xA0, ReadRegister(chip, 0xF5));

        chip.Write([0xD0, 0x12]);
        chip.Write([0x88, 0x00]);
        Assert.Equal(0x60, ReadRegister(chip, 0xD0));
        Assert.Equal(0x70, ReadRegister(chip, 0x88));

        chip.Write([0xE0, 0x01]); // not the reset command
        Assert.Equal(0xA0, ReadRegister(chip, 0xF5));
        chip.Write([0xE0, 0xB6]);
        Assert.Equal(0, ReadRegister(chip, 0xF5));
        Assert.Equal(0, ReadRegister(chip, 0xF2));
        Assert.Equal(0, ReadRegister(chip, 0xE0));
    }

    [Fact]
    public async Task A_chip_with_another_id_makes_RunAsync_throw_IOException()
    {
        var source = SimulatedSource();
        source.Simulator!.ChipId = 0x58; // a BMP280 at the address

        var error = await Assert.ThrowsAsync<IOException>(() => SourceRun.RunToFailureAsync(source));
        Assert.Contains("0x76", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unplugged_sensor_fails_the_run_and_a_replugged_one_works_again_with_its_injected_values()
    {
        var source = SimulatedSource();
        var chip = source.Simulator!;
        source.InjectValues([new("temperature", -3.5), new("pressure", 955.0), new("humidity", 71.0)]);

        await using (var run = SourceRun.Start(source))
        {
            await run.WaitForFramesAsync(2);
            chip.Connected = false;
            var midRun = await Assert.ThrowsAsync<IOException>(() => run.Completion.WaitAsync(SourceRun.Timeout));
            Assert.Contains("Remote I/O error", midRun.Message, StringComparison.Ordinal);
        }

        // Still unplugged: the next run fails while opening, with the address in the message.
        var atOpen = await Assert.ThrowsAsync<IOException>(() => SourceRun.RunToFailureAsync(source));
        Assert.Contains("0x76", atOpen.Message, StringComparison.Ordinal);

        chip.Connected = true;
        await using (var run = SourceRun.Start(source))
        {
            var frames = await run.WaitForFramesAsync(2);
            Assert.Equal(-3.5, frames[^1][0], TemperatureTolerance);
            Assert.Equal(955.0, frames[^1][1], PressureTolerance);
            Assert.Equal(71.0, frames[^1][2], HumidityTolerance);
        }
    }

    [Fact]
    public void InjectValues_with_an_unknown_channel_throws_ArgumentException_and_changes_nothing()
    {
        var source = SimulatedSource();

        var error = Assert.Throws<ArgumentException>(() => source.InjectValues([new("temperature", 30.0), new("altitude", 100.0)]));
        Assert.Contains("altitude", error.Message, StringComparison.Ordinal);
        Assert.Equal(21.0, source.Simulator!.TemperatureCelsius);
        Assert.Throws<ArgumentException>(() => source.InjectValues([new("temperature", 30.0), new("pressure", double.PositiveInfinity)]));
        Assert.Equal(21.0, source.Simulator.TemperatureCelsius);
    }

    [Fact]
    public void InjectEdge_throws_InvalidOperationException()
    {
        var source = SimulatedSource();
        Assert.Throws<InvalidOperationException>(() => source.InjectEdge(rising: true));
    }

    [Fact]
    public async Task A_real_source_without_the_bus_device_node_throws_IOException_naming_it()
    {
        const int Bus = 97;
        Assert.False(File.Exists("/dev/i2c-97"), "This test needs a bus number with no device node.");
        var source = new Bme280Source(new SensorConfig { Name = "env", Type = "bme280", Bus = Bus, SampleHz = 50 });
        Assert.Null(source.Simulator);
        Assert.Throws<InvalidOperationException>(() => source.InjectValues([new("temperature", 20.0)]));

        var error = await Assert.ThrowsAsync<IOException>(() => SourceRun.RunToFailureAsync(source));
        Assert.Contains("/dev/i2c-97", error.Message, StringComparison.Ordinal);
        Assert.Contains("dtparam=i2c_arm=on", error.Message, StringComparison.Ordinal);
        Assert.Contains("group i2c", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_configuration_sets_bus_address_and_rate_with_0x76_as_the_default_address()
    {
        var byDefault = SimulatedSource();
        Assert.Equal("bme280", byDefault.Type);
        Assert.Equal(new[] { "temperature", "pressure", "humidity" }, byDefault.Channels);
        Assert.Equal(0x76, byDefault.Address);
        Assert.Equal(0x76, byDefault.Simulator!.ConnectionSettings.DeviceAddress);
        Assert.Equal(50, byDefault.SampleRate);

        var other = new Bme280Source(new SensorConfig { Name = "env2", Bus = 3, Address = 0x77, Simulated = true });
        Assert.Equal(0x77, other.Address);
        Assert.Equal(3, other.Simulator!.ConnectionSettings.BusId);

        Assert.Throws<ArgumentOutOfRangeException>(() => new Bme280Source(new SensorConfig { Name = "bad", Address = 0x80 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Bme280Source(new SensorConfig { Name = "bad", SampleHz = 0 }));
    }

    private static Bme280Source SimulatedSource() =>
        new(new SensorConfig { Name = "env", Type = "bme280", SampleHz = 50, Simulated = true });

    private static byte ReadRegister(System.Device.I2c.I2cDevice chip, byte register)
    {
        Span<byte> value = stackalloc byte[1];
        chip.WriteRead([register], value);
        return value[0];
    }
}

/// <summary>
/// Runs a source on the thread pool the way the sensor host does and collects copies of its frames, so tests can wait
/// for frames, stop the run, or see it fail. Shared by the I2C source tests.
/// </summary>
internal sealed class SourceRun : IAsyncDisposable, ISensorObserver
{
    /// <summary>Generous: the machine may be building something else at the same time.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    private readonly List<float[]> _frames = [];
    private readonly CancellationTokenSource _stop = new();

    private SourceRun()
    {
    }

    public Task Completion { get; private set; } = Task.CompletedTask;

    public float[][] Frames
    {
        get
        {
            lock (_frames)
            {
                return [.. _frames];
            }
        }
    }

    public static SourceRun Start(ISensorSource source)
    {
        var run = new SourceRun();
        run.Completion = Task.Run(() => source.RunAsync(run, run._stop.Token));
        return run;
    }

    /// <summary>Runs the source until it fails and rethrows the failure; fails the test if it produces a frame or hangs.</summary>
    public static async Task RunToFailureAsync(ISensorSource source)
    {
        await using var run = Start(source);
        var frames = await run.WaitUntilAsync(f => f.Length > 0);
        Assert.Fail($"The run produced {frames.Length} frames instead of failing.");
    }

    public Task<float[][]> WaitForFramesAsync(int count) => WaitUntilAsync(frames => frames.Length >= count);

    public async Task<float[]> WaitForAsync(Func<float[], bool> predicate)
    {
        var frames = await WaitUntilAsync(frames => frames.Any(predicate));
        return frames.First(predicate);
    }

    /// <summary>Stops the run and returns every frame it produced; a failure of the run is rethrown.</summary>
    public async Task<float[][]> StopAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await Completion.WaitAsync(Timeout);
        }
        catch (OperationCanceledException)
        {
            // The normal end of a cancelled run.
        }

        return Frames;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await Completion.WaitAsync(Timeout);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException)
        {
            // Cancellation ends a run; an IOException was what a test waited for and has asserted already.
        }

        _stop.Dispose();
    }

    void ISensorObserver.OnFrame(ISensorSource source, in SensorFrame frame)
    {
        Assert.Equal(source.Channels.Count, frame.Channels);
        float[] copy = frame.Samples.ToArray(); // the memory is only valid during the call
        lock (_frames)
        {
            _frames.Add(copy);
        }
    }

    void ISensorObserver.OnEdge(ISensorSource source, GpioEdge edge) =>
        throw new InvalidOperationException("A polled source produced an edge.");

    private async Task<float[][]> WaitUntilAsync(Func<float[][], bool> done)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            var frames = Frames;
            if (done(frames))
            {
                return frames;
            }

            if (Completion.IsCompleted)
            {
                await Completion; // rethrows the run's failure
                Assert.Fail($"The run ended after {frames.Length} frames without what the test waited for.");
            }

            Assert.True(waited.Elapsed < Timeout, $"Timed out after {frames.Length} frames.");
            await Task.Delay(5);
        }
    }
}
