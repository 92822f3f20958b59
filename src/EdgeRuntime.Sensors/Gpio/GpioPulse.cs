using System.Device.Gpio;

namespace EdgeRuntime.Sensors.Gpio;

/// <summary>
/// Drives an output high for a time, then low: a LED, a buzzer, a relay coil. Pulses on one pin do not overlap. The
/// length is timed by <paramref name="timeProvider"/> (the trigger engine passes the sensors' clock).
/// </summary>
public sealed class GpioPulse(GpioChips chips, int pin, TimeSpan length, bool simulated, TimeProvider? timeProvider = null)
{
    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;
    private readonly SemaphoreSlim _one = new(1, 1);
    private bool _opened;

    public int Pin { get; } = pin;

    public long Pulses { get; private set; }

    public async Task PulseAsync(CancellationToken cancellationToken)
    {
        await _one.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var controller = chips.Get(simulated);
            if (!_opened)
            {
                controller.OpenPin(Pin, PinMode.Output, PinValue.Low);
                _opened = true;
            }

            // The end is timed before the pin goes high, so whoever sees it high (a test moving a fake clock) knows the
            // pulse's length is already counting.
            var hold = Task.Delay(length, _time, cancellationToken);
            controller.Write(Pin, PinValue.High);
            try
            {
                await hold.ConfigureAwait(false);
            }
            finally
            {
                // Never leave a relay energised, even when the daemon is stopping.
                controller.Write(Pin, PinValue.Low);
            }

            Pulses++;
        }
        finally
        {
            _one.Release();
        }
    }
}
