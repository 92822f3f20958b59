using System.Device.Gpio;
using EdgeRuntime.Sensors.Gpio;
using Microsoft.Extensions.Time.Testing;

namespace EdgeRuntime.Sensors.Tests;

public sealed class GpioTests
{
    private static SensorConfig Button(double debounceMs, string edge = "rising") =>
        new() { Name = "button", Type = "gpio", Pin = 17, Edge = edge, DebounceMs = debounceMs, Simulated = true };

    [Fact]
    public async Task A_burst_of_bouncing_edges_is_one_edge_and_a_later_press_is_another()
    {
        // Edges are stamped and debounced by a fake clock: the burst is at one instant, the next press exactly where
        // the test moves the clock.
        var clock = new FakeTimeProvider();
        using var chips = new GpioChips(null);
        var button = new GpioEdgeSource(Button(debounceMs: 1000), chips) { TimeProvider = clock };
        await using var host = new SensorHost(_ => { }, clock);
        var recorder = new Recorder();
        host.Add(button, 0);
        host.AddListener(recorder);
        host.Start();
        await Eventually.TrueAsync(() => host.Status()[0].State == "ok", "the button to open");

        for (int i = 0; i < 10; i++)
        {
            button.InjectEdge(rising: true); // contact bounce: ten rising edges within a few microseconds
        }

        var first = Assert.Single(recorder.Edges);
        Assert.Equal(9, button.Bounced);
        clock.Advance(TimeSpan.FromMilliseconds(999)); // still within the debounce of the accepted edge
        button.InjectEdge(rising: true);
        Assert.Single(recorder.Edges);
        Assert.Equal(10, button.Bounced);
        clock.Advance(TimeSpan.FromMilliseconds(1)); // the debounce has passed
        button.InjectEdge(rising: true);
        Assert.Equal(2, recorder.Edges.Length);
        Assert.Equal(clock.TimestampFrequency, recorder.Edges[1].Timestamp - first.Timestamp); // one second apart
        Assert.All(recorder.Edges, e => Assert.True(e.Rising));
        Assert.Equal(17, recorder.Edges[0].Pin);
    }

    [Fact]
    public async Task Only_the_configured_edge_is_delivered()
    {
        using var chips = new GpioChips(null);
        var pir = new GpioEdgeSource(Button(debounceMs: 0, edge: "falling"), chips);
        await using var host = new SensorHost(_ => { });
        var recorder = new Recorder();
        host.Add(pir, 0);
        host.AddListener(recorder);
        host.Start();
        await Eventually.TrueAsync(() => host.Status()[0].State == "ok", "the input to open");

        pir.InjectEdge(rising: true);
        pir.InjectEdge(rising: false);
        pir.InjectEdge(rising: true);
        var edge = Assert.Single(recorder.Edges);
        Assert.False(edge.Rising);
    }

    [Fact]
    public void Real_gpio_on_a_machine_without_a_chip_says_what_is_missing()
    {
        using var chips = new GpioChips("/dev/gpiochip-does-not-exist");
        var error = Assert.Throws<IOException>(() => chips.Get(simulated: false));
        Assert.Contains("/dev/gpiochip-does-not-exist", error.Message, StringComparison.Ordinal);
        Assert.Contains("simulated", error.Message, StringComparison.Ordinal);

        using var physical = new GpioChips("/dev/null", numbering: "board");
        Assert.Contains("\"logical\"", Assert.Throws<IOException>(() => physical.Get(simulated: false)).Message, StringComparison.Ordinal);

        using var none = new GpioChips(null);
        Assert.Contains("declares no GPIO chip", Assert.Throws<IOException>(() => none.Get(simulated: false)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_real_gpio_sensor_that_cannot_open_is_failed_and_retried_not_fatal()
    {
        using var chips = new GpioChips("/dev/gpiochip-does-not-exist");
        var pir = new GpioEdgeSource(new SensorConfig { Name = "pir", Type = "gpio", Pin = 4 }, chips);
        await using var host = new SensorHost(_ => { }) { InitialBackoff = TimeSpan.FromMilliseconds(10) };
        host.Add(pir, 0);
        host.Start();
        await Eventually.TrueAsync(() => host.Status()[0].Failures >= 2, "two attempts to open the missing chip");
        Assert.Equal("failed", host.Status()[0].State);
        Assert.Contains(host.Problems(), p => p.StartsWith("sensor pir: GPIO chip", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_pulse_drives_the_pin_high_for_its_length_then_low()
    {
        // A ten-minute pulse (a relay holding a pump on) on a fake clock: the test moves the clock over it.
        var clock = new FakeTimeProvider();
        using var chips = new GpioChips(null, timeProvider: clock);
        var pulse = new GpioPulse(chips, 27, TimeSpan.FromMinutes(10), simulated: true, clock);
        var pulsing = pulse.PulseAsync(default);
        Assert.Equal([PinValue.Low, PinValue.High], chips.SimulatedDriver.Writes.Where(w => w.Pin == 27).Select(w => w.Value));
        clock.Advance(TimeSpan.FromMinutes(10) - TimeSpan.FromMilliseconds(1));
        Assert.False(pulsing.IsCompleted);
        clock.Advance(TimeSpan.FromMilliseconds(1));
        await pulsing.WaitAsync(TimeSpan.FromSeconds(15)); // a wall-clock bound only, so a broken pulse fails instead of hanging
        var writes = chips.SimulatedDriver.Writes.Where(w => w.Pin == 27).ToArray();
        // Opened as an output driven low, then the pulse: high, and low again exactly ten minutes later.
        Assert.Equal([PinValue.Low, PinValue.High, PinValue.Low], writes.Select(w => w.Value));
        Assert.Equal(TimeSpan.FromMinutes(10), clock.GetElapsedTime(writes[1].Timestamp, writes[2].Timestamp));
        Assert.Equal(1, pulse.Pulses);
    }

    [Fact]
    public void Bad_gpio_configuration_is_refused_with_the_field_named()
    {
        using var chips = new GpioChips(null);
        Assert.Contains("\"pin\"", Assert.Throws<ArgumentException>(() => new GpioEdgeSource(new SensorConfig { Name = "b", Type = "gpio" }, chips)).Message, StringComparison.Ordinal);
        Assert.Contains("rising, falling or both", Assert.Throws<ArgumentException>(() => new GpioEdgeSource(Button(0, edge: "up"), chips)).Message, StringComparison.Ordinal);
    }
}
