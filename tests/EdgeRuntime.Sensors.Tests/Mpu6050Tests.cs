using System.Numerics;
using EdgeRuntime.Sensors.Mpu6050;

namespace EdgeRuntime.Sensors.Tests;

public sealed class Mpu6050Tests
{
    // One LSB at the binding's ranges: ±2 g and ±250 °/s over 16 bits.
    private const double AccelLsb = 2.0 / 32768;
    private const double GyroLsb = 250.0 / 32768;

    [Theory]
    [InlineData(0.0, 0.0, 1.0, 0.0, 0.0, 0.0)]
    [InlineData(-1.5, 0.25, -0.999, -200.5, 12.3, 249.9)]
    [InlineData(1.9999, -1.9999, 0.0001, 0.01, -0.01, -249.99)]
    [InlineData(-0.7071, 0.7071, -1.0, 45.0, -90.0, 180.0)]
    public async Task Injected_values_are_read_back_through_the_binding_within_one_lsb(double ax, double ay, double az, double gx, double gy, double gz)
    {
        var source = SimulatedSource();
        source.InjectValues([new("ax", ax), new("ay", ay), new("az", az), new("gx", gx), new("gy", gy), new("gz", gz)]);

        await using var run = SourceRun.Start(source);
        await run.WaitForFramesAsync(3);
        var frames = await run.StopAsync();

        Assert.True(frames.Length >= 3);
        Assert.All(frames, frame =>
        {
            Assert.Equal(6, frame.Length);
            Assert.Equal(ax, frame[0], AccelLsb);
            Assert.Equal(ay, frame[1], AccelLsb);
            Assert.Equal(az, frame[2], AccelLsb);
            Assert.Equal(gx, frame[3], GyroLsb);
            Assert.Equal(gy, frame[4], GyroLsb);
            Assert.Equal(gz, frame[5], GyroLsb);
        });
    }

    [Fact]
    public async Task Values_beyond_the_configured_range_saturate_like_the_chip()
    {
        var source = SimulatedSource();
        source.InjectValues([new("ax", 3.0), new("ay", -5.0), new("gz", -400.0)]);

        await using var run = SourceRun.Start(source);
        var frame = (await run.WaitForFramesAsync(1))[0];

        Assert.Equal(32767 * AccelLsb, frame[0], 1e-6);
        Assert.Equal(-2.0, frame[1], 1e-6);
        Assert.Equal(-250.0, frame[5], 1e-4);
    }

    [Fact]
    public async Task Values_injected_while_running_show_up_in_later_frames()
    {
        var source = SimulatedSource();
        await using var run = SourceRun.Start(source);
        var before = await run.WaitForFramesAsync(1);
        Assert.Equal(1.0, before[0][2], AccelLsb); // the simulator's default: lying flat

        source.InjectValues([new("ay", -0.5), new("gx", -33.3)]);
        var after = await run.WaitForAsync(f => Math.Abs(f[1] - -0.5) <= AccelLsb);

        Assert.Equal(-33.3, after[3], GyroLsb);
        Assert.Equal(1.0, after[2], AccelLsb); // not injected: unchanged
    }

    [Fact]
    public async Task The_binding_wakes_the_chip_and_sets_2_g_and_250_degrees_per_second()
    {
        var source = SimulatedSource();
        var chip = source.Simulator!;
        Assert.True(chip.Sleeping); // the power-on state

        await using (var run = SourceRun.Start(source))
        {
            await run.WaitForFramesAsync(1);
        }

        Assert.False(chip.Sleeping);
        Assert.Equal(2, chip.AccelerometerFullScaleG);
        Assert.Equal(250, chip.GyroscopeFullScaleDps);
        Assert.True(chip.TransferCount > 10);
    }

    [Fact]
    public void The_reset_bit_clears_itself_restores_sleep_and_the_outputs_stay_frozen_while_asleep()
    {
        var chip = new SimulatedMpu6050 { AccelerationG = new Vector3(0.5f, 0, 0) };
        chip.Write([0x1C, 0b000_01_000]); // ±4 g
        chip.Write([0x6B, 0x01]); // wake, PLL clock
        Span<byte> accel = stackalloc byte[6];
        chip.WriteRead([0x3B], accel);
        Assert.Equal(4096, (short)((accel[0] << 8) | accel[1])); // 0.5 g at 8192 LSB/g
        Assert.Equal(4, chip.AccelerometerFullScaleG);

        chip.Write([0x6B, 0x80]);
        Assert.Equal(0x40, ReadRegister(chip, 0x6B)); // reset bit gone, asleep
        Assert.Equal(0, ReadRegister(chip, 0x1C)); // range back to ±2 g
        chip.AccelerationG = new Vector3(-1, 0, 0);
        chip.WriteRead([0x3B], accel);
        Assert.Equal(0, (short)((accel[0] << 8) | accel[1])); // asleep: nothing converted since the reset

        chip.Write([0x75, 0x00]);
        Assert.Equal(0x68, ReadRegister(chip, 0x75)); // WHO_AM_I is read-only
    }

    [Fact]
    public async Task A_chip_with_another_who_am_i_makes_RunAsync_throw_IOException()
    {
        var source = SimulatedSource();
        source.Simulator!.WhoAmI = 0x71; // an MPU-9250 at the address

        var error = await Assert.ThrowsAsync<IOException>(() => SourceRun.RunToFailureAsync(source));
        Assert.Contains("0x68", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unplugged_sensor_fails_the_run_and_a_replugged_one_works_again_with_its_injected_values()
    {
        var source = SimulatedSource();
        var chip = source.Simulator!;
        source.InjectValues([new("ax", -0.25), new("gz", 100.0)]);

        await using (var run = SourceRun.Start(source))
        {
            await run.WaitForFramesAsync(2);
            chip.Connected = false;
            var midRun = await Assert.ThrowsAsync<IOException>(() => run.Completion.WaitAsync(SourceRun.Timeout));
            Assert.Contains("Remote I/O error", midRun.Message, StringComparison.Ordinal);
        }

        long transfers = chip.TransferCount;
        await Assert.ThrowsAsync<IOException>(() => SourceRun.RunToFailureAsync(source));
        Assert.Equal(transfers, chip.TransferCount); // nothing got through while unplugged

        chip.Connected = true;
        await using (var run = SourceRun.Start(source))
        {
            var frames = await run.WaitForFramesAsync(2);
            Assert.Equal(-0.25, frames[^1][0], AccelLsb);
            Assert.Equal(100.0, frames[^1][5], GyroLsb);
        }
    }

    [Fact]
    public void InjectValues_with_an_unknown_channel_throws_ArgumentException_and_changes_nothing()
    {
        var source = SimulatedSource();

        var error = Assert.Throws<ArgumentException>(() => source.InjectValues([new("ax", 1.5), new("mx", 20.0)]));
        Assert.Contains("mx", error.Message, StringComparison.Ordinal);
        Assert.Equal(new Vector3(0, 0, 1), source.Simulator!.AccelerationG);
        Assert.Throws<ArgumentException>(() => source.InjectValues([new("ax", 1.5), new("gx", double.NaN)]));
        Assert.Equal(new Vector3(0, 0, 1), source.Simulator.AccelerationG);
        Assert.Throws<InvalidOperationException>(() => source.InjectEdge(rising: false));
    }

    [Fact]
    public async Task A_real_source_without_the_bus_device_node_throws_IOException_naming_it()
    {
        Assert.False(File.Exists("/dev/i2c-98"), "This test needs a bus number with no device node.");
        var source = new Mpu6050Source(new SensorConfig { Name = "imu", Type = "mpu6050", Bus = 98, SampleHz = 50 });
        Assert.Null(source.Simulator);
        Assert.Equal(0x68, source.Address);
        Assert.Throws<InvalidOperationException>(() => source.InjectValues([new("ax", 0.0)]));

        var error = await Assert.ThrowsAsync<IOException>(() => SourceRun.RunToFailureAsync(source));
        Assert.Contains("/dev/i2c-98", error.Message, StringComparison.Ordinal);
        Assert.Contains("group i2c", error.Message, StringComparison.Ordinal);
    }

    private static Mpu6050Source SimulatedSource() =>
        new(new SensorConfig { Name = "imu", Type = "mpu6050", SampleHz = 50, Simulated = true });

    private static byte ReadRegister(System.Device.I2c.I2cDevice chip, byte register)
    {
        Span<byte> value = stackalloc byte[1];
        chip.WriteRead([register], value);
        return value[0];
    }
}
