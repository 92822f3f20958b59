using System.Device.Gpio;
using System.Diagnostics;
using EdgeRuntime.Sensors.Gpio;

namespace EdgeRuntime.Sensors.Tests;

public sealed class GpioTests
{
    private static SensorConfig Button(double debounceMs, string edge = "rising") =>
        new() { Name = "button", Type = "gpio", Pin = 17, Edge = edge, DebounceMs = debounceMs, Simulated = true };

    [Fact]
    public async Task A_burst_of_bouncing_edges_is_one_edge_and_a_later_press_is_another()
    {
        using var chips = new GpioChips(null);
        // A second of debounce, so all ten injected edges fall inside it even when the test thread is preempted.
        var button = new GpioEdgeSource(Button(debounceMs: 1000), chips);
        await using var host = new SensorHost(_ => { });
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
        // The debounce runs from the accepted edge's own timestamp; press again only once it has surely passed.
        await Eventually.TrueAsync(() => Stopwatch.GetElapsedTime(first.Timestamp).TotalMilliseconds > 1000, "the debounce to pass");
        button.InjectEdge(rising: true);
        Assert.Equal(2, recorder.Edges.Length);
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
        using var chips = new GpioChips(null);
        var pulse = new GpioPulse(chips, 27, TimeSpan.FromMilliseconds(30), simulated: true);
        await pulse.PulseAsync(default);
        var writes = chips.SimulatedDriver.Writes.Where(w => w.Pin == 27).ToArray();
        // Opened as an output driven low, then the pulse: high, and low again.
        Assert.Equal([PinValue.Low, PinValue.High, PinValue.Low], writes.Select(w => w.Value));
        double heldMs = (writes[2].Timestamp - writes[1].Timestamp) * 1000.0 / Stopwatch.Frequency;
        Assert.InRange(heldMs, 25, 5000);
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
