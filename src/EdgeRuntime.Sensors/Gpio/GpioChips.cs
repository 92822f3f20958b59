using System.Device.Gpio;
using System.Device.Gpio.Drivers;

namespace EdgeRuntime.Sensors.Gpio;

/// <summary>
/// One GpioController per chip, shared by every input and output on it (libgpiod allows a line to be requested once
/// per process, and one driver thread per chip is enough). The chip comes from the board profile: the Pi 5's header
/// is on the RP1's own chip, not chip 0. Simulated pins share one in-memory chip, whose writes are stamped by
/// <paramref name="timeProvider"/> (so a pulse's length can be checked against the clock that timed it).
/// </summary>
public sealed class GpioChips(string? boardChip, string numbering = "logical", TimeProvider? timeProvider = null) : IDisposable
{
    private readonly Lock _gate = new();
    private GpioController? _hardware;
    private GpioController? _simulated;

    /// <summary>The chip device from the board profile (e.g. /dev/gpiochip4); null when the board declares none.</summary>
    public string? BoardChip { get; } = boardChip;

    public SimulatedGpioDriver SimulatedDriver { get; } = new(timeProvider: timeProvider);

    public GpioController Get(bool simulated)
    {
        lock (_gate)
        {
            if (simulated)
            {
                return _simulated ??= new GpioController(SimulatedDriver);
            }

            return _hardware ??= OpenHardware();
        }
    }

    private GpioController OpenHardware()
    {
        if (BoardChip is null)
        {
            throw new IOException("The board profile declares no GPIO chip (\"gpio\": null); GPIO sensors and actions need a board with one, or \"simulated\": true.");
        }

        if (numbering != "logical")
        {
            // Physical header numbering differs per board revision; pins here are the chip's line offsets, which is
            // what libgpiod, gpioinfo and the board's pinout (GPIOnn) use.
            throw new IOException($"The board profile sets \"gpio.numbering\": \"{numbering}\"; GPIO sensors and actions take the chip's line offsets (\"logical\", e.g. GPIO17 is pin 17). Set it to \"logical\" and give line offsets.");
        }

        if (!File.Exists(BoardChip))
        {
            string[] present = Directory.Exists("/dev") ? Directory.GetFiles("/dev", "gpiochip*") : [];
            throw new IOException(present.Length == 0
                ? $"GPIO chip {BoardChip} (from the board profile) does not exist, and this machine has no /dev/gpiochip* at all: it is not a board with GPIO, or the GPIO driver is not loaded. Use \"simulated\": true to run without hardware."
                : $"GPIO chip {BoardChip} (from the board profile) does not exist; this machine has {string.Join(", ", present)}. Fix \"gpio.chip\" in the board profile.");
        }

        int chip = int.Parse(BoardChip.AsSpan(BoardChip.LastIndexOf("gpiochip", StringComparison.Ordinal) + "gpiochip".Length), System.Globalization.CultureInfo.InvariantCulture);
        try
        {
            return new GpioController(new LibGpiodDriver(chip));
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or TypeInitializationException || e.GetType().Name == "GpiodException")
        {
            throw new IOException($"Cannot open {BoardChip} through libgpiod: {e.Message}. Install libgpiod (apt-get install libgpiod2) and make sure the service user is in group gpio.", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new IOException($"Permission denied opening {BoardChip}: add the service user to group gpio.", e);
        }
    }

    public void Dispose()
    {
        _hardware?.Dispose();
        _simulated?.Dispose();
    }
}
