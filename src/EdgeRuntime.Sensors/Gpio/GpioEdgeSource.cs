using System.Device.Gpio;

namespace EdgeRuntime.Sensors.Gpio;

/// <summary>
/// A GPIO input (a PIR sensor, a button) delivering debounced edges. Debounce is done here rather than in the kernel:
/// the libgpiod v1 API System.Device.Gpio uses has no debounce setting, and a contact's bounce arrives as a burst of
/// edges within a few milliseconds, so any edge closer than DebounceMs to the last accepted one is dropped.
/// </summary>
public sealed class GpioEdgeSource : ISensorSource, ISimulatedInput
{
    private readonly GpioChips _chips;
    private readonly PinEventTypes _events;
    private readonly double _debounceMs;
    private readonly Lock _gate = new();
    private readonly Lock _injecting = new();
    private long _lastAccepted;
    private bool _accepted;
    private ISensorObserver? _observer;

    public GpioEdgeSource(SensorConfig config, GpioChips chips)
    {
        Name = config.Name;
        Pin = config.Pin >= 0 ? config.Pin : throw new ArgumentException($"Sensor '{config.Name}': a gpio sensor needs \"pin\" (the line offset on the board's GPIO chip).");
        Simulated = config.Simulated;
        _chips = chips;
        _events = config.Edge switch
        {
            "rising" => PinEventTypes.Rising,
            "falling" => PinEventTypes.Falling,
            "both" => PinEventTypes.Rising | PinEventTypes.Falling,
            _ => throw new ArgumentException($"Sensor '{config.Name}': edge is '{config.Edge}'; it must be rising, falling or both."),
        };
        _debounceMs = config.DebounceMs;
    }

    /// <summary>The clock that stamps edges and times the debounce; <see cref="SensorFactory"/> sets the host's.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    public string Name { get; }

    public string Type => "gpio";

    public int Pin { get; }

    public bool Simulated { get; }

    public IReadOnlyList<string> Channels { get; } = ["level"];

    public double SampleRate => 0;

    /// <summary>Edges dropped as bounce.</summary>
    public long Bounced { get; private set; }

    public async Task RunAsync(ISensorObserver observer, CancellationToken cancellationToken)
    {
        var controller = _chips.Get(Simulated);
        controller.OpenPin(Pin, PinMode.Input);
        _observer = observer;
        bool registered = false;
        try
        {
            controller.RegisterCallbackForPinValueChangedEvent(Pin, _events, OnChange);
            registered = true;
            observer.OnOpened(this);
            await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // Closed on every way out, or the retry after a failure would find the line still requested.
            if (registered)
            {
                controller.UnregisterCallbackForPinValueChangedEvent(Pin, OnChange);
            }

            controller.ClosePin(Pin);
            _observer = null;
        }
    }

    private void OnChange(object sender, PinValueChangedEventArgs e)
    {
        long now = TimeProvider.GetTimestamp();
        long debounceTicks = (long)(_debounceMs * TimeProvider.TimestampFrequency / 1000);
        lock (_gate)
        {
            if (_accepted && now - _lastAccepted < debounceTicks)
            {
                Bounced++;
                return;
            }

            _lastAccepted = now;
            _accepted = true;
        }

        _observer?.OnEdge(this, new GpioEdge(now, e.PinNumber, e.ChangeType == PinEventTypes.Rising));
    }

    public void InjectEdge(bool rising)
    {
        if (!Simulated)
        {
            throw new InvalidOperationException($"Sensor '{Name}' is wired to real GPIO; only a simulated one takes injected edges.");
        }

        var driver = _chips.SimulatedDriver;
        // An edge is a change of level: go to the opposite level first (which fires only if that edge is watched too).
        // One injection at a time, or two concurrent presses would share one level change and one would be lost.
        lock (_injecting)
        {
            driver.SimulateInput(Pin, rising ? PinValue.Low : PinValue.High);
            driver.SimulateInput(Pin, rising ? PinValue.High : PinValue.Low);
        }
    }

    public void InjectValues(IReadOnlyList<KeyValuePair<string, double>> values) =>
        throw new InvalidOperationException($"Sensor '{Name}' is a GPIO input; inject an edge, not values.");
}
