using System.Device.Gpio;

namespace EdgeRuntime.Sensors.Gpio;

/// <summary>
/// A GPIO chip in memory. Inputs change only through <see cref="SimulateInput"/>, which fires registered callbacks
/// the way the libgpiod driver does from its event thread; outputs record every write so tests can check what an
/// action drove. Used for tests, demos and boards run without wiring ("simulated": true).
/// </summary>
public sealed class SimulatedGpioDriver(int pinCount = 64, TimeProvider? timeProvider = null) : GpioDriver
{
    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;
    private readonly Lock _gate = new();
    private readonly Dictionary<int, PinState> _pins = [];

    protected override int PinCount { get; } = pinCount;

    /// <summary>Every value written to an output, in order, with its time (timestamp ticks of the driver's clock).</summary>
    public IReadOnlyList<(int Pin, PinValue Value, long Timestamp)> Writes
    {
        get
        {
            lock (_gate)
            {
                return [.. _writes];
            }
        }
    }

    private readonly List<(int Pin, PinValue Value, long Timestamp)> _writes = [];

    /// <summary>Drives an input pin to a level; a change fires the matching edge callbacks synchronously.</summary>
    public void SimulateInput(int pin, PinValue value)
    {
        PinChangeEventHandler[] callbacks;
        PinEventTypes edge;
        lock (_gate)
        {
            var state = Get(pin);
            if (state.Value == value)
            {
                return;
            }

            state.Value = value;
            edge = value == PinValue.High ? PinEventTypes.Rising : PinEventTypes.Falling;
            callbacks = [.. state.Callbacks.Where(c => (c.Events & edge) != 0).Select(c => c.Handler)];
        }

        foreach (var callback in callbacks)
        {
            callback(this, new PinValueChangedEventArgs(edge, pin));
        }
    }

    protected override void OpenPin(int pinNumber)
    {
        lock (_gate)
        {
            _ = Get(pinNumber); // refuses a pin the chip does not have, as a real chip would
        }
    }

    protected override void ClosePin(int pinNumber)
    {
        lock (_gate)
        {
            Get(pinNumber).Callbacks.Clear();
        }
    }

    protected override void SetPinMode(int pinNumber, PinMode mode)
    {
        lock (_gate)
        {
            Get(pinNumber).Mode = mode;
        }
    }

    protected override PinMode GetPinMode(int pinNumber)
    {
        lock (_gate)
        {
            return Get(pinNumber).Mode;
        }
    }

    protected override bool IsPinModeSupported(int pinNumber, PinMode mode) => mode is PinMode.Input or PinMode.Output or PinMode.InputPullUp or PinMode.InputPullDown;

    protected override PinValue Read(int pinNumber)
    {
        lock (_gate)
        {
            return Get(pinNumber).Value;
        }
    }

    protected override void Write(int pinNumber, PinValue value)
    {
        lock (_gate)
        {
            Get(pinNumber).Value = value;
            _writes.Add((pinNumber, value, _time.GetTimestamp()));
        }
    }

    protected override WaitForEventResult WaitForEvent(int pinNumber, PinEventTypes eventTypes, CancellationToken cancellationToken)
    {
        var done = new ManualResetEventSlim();
        PinEventTypes seen = PinEventTypes.None;
        void Handler(object sender, PinValueChangedEventArgs e)
        {
            seen = e.ChangeType;
            done.Set();
        }

        AddCallbackForPinValueChangedEvent(pinNumber, eventTypes, Handler);
        try
        {
            done.Wait(cancellationToken);
            return new WaitForEventResult { EventTypes = seen, TimedOut = false };
        }
        catch (OperationCanceledException)
        {
            return new WaitForEventResult { EventTypes = PinEventTypes.None, TimedOut = true };
        }
        finally
        {
            RemoveCallbackForPinValueChangedEvent(pinNumber, Handler);
            done.Dispose();
        }
    }

    protected override void AddCallbackForPinValueChangedEvent(int pinNumber, PinEventTypes eventTypes, PinChangeEventHandler callback)
    {
        lock (_gate)
        {
            Get(pinNumber).Callbacks.Add((eventTypes, callback));
        }
    }

    protected override void RemoveCallbackForPinValueChangedEvent(int pinNumber, PinChangeEventHandler callback)
    {
        lock (_gate)
        {
            Get(pinNumber).Callbacks.RemoveAll(c => c.Handler == callback);
        }
    }

    public override System.Device.ComponentInformation QueryComponentInformation() => new(this, "Simulated GPIO chip");

    private PinState Get(int pin)
    {
        if ((uint)pin >= (uint)PinCount)
        {
            throw new ArgumentOutOfRangeException(nameof(pin), pin, $"The simulated chip has pins 0..{PinCount - 1}.");
        }

        if (!_pins.TryGetValue(pin, out var state))
        {
            _pins[pin] = state = new PinState();
        }

        return state;
    }

    private sealed class PinState
    {
        public PinMode Mode { get; set; } = PinMode.Input;

        public PinValue Value { get; set; } = PinValue.Low;

        public List<(PinEventTypes Events, PinChangeEventHandler Handler)> Callbacks { get; } = [];
    }
}
