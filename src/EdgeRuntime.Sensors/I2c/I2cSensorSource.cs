using System.Device.I2c;
using System.Globalization;

namespace EdgeRuntime.Sensors.I2c;

/// <summary>
/// What every polled I2C sensor shares: the bus and 7-bit address from the configuration, the simulated chip that
/// stands in for the hardware when the sensor is simulated (one per source, so injected values survive the reopen that
/// follows a failure), and opening the Iot.Device.Bindings driver with an error that says what to check.
/// </summary>
public abstract class I2cSensorSource<TSimulator> : PolledSensorSource, ISimulatedInput
    where TSimulator : SimulatedI2cDevice
{
    protected I2cSensorSource(SensorConfig config, int defaultAddress, Func<int, int, TSimulator> createSimulator)
        : base((config ?? throw new ArgumentNullException(nameof(config))).Name, config.SampleHz)
    {
        ArgumentNullException.ThrowIfNull(createSimulator);
        Bus = config.Bus >= 0 ? config.Bus : throw new ArgumentOutOfRangeException(nameof(config), config.Bus, "The I2C bus number must not be negative.");
        Address = config.Address ?? defaultAddress;
        if (Address is < 0x03 or > 0x77)
        {
            throw new ArgumentOutOfRangeException(nameof(config), Address, "The I2C address must be a 7-bit address (0x03..0x77).");
        }

        Simulator = config.Simulated ? createSimulator(Bus, Address) : null;
    }

    public int Bus { get; }

    public int Address { get; }

    /// <summary>The simulated chip the binding talks to when the source is simulated; null for real hardware.</summary>
    public TSimulator? Simulator { get; }

    public void InjectEdge(bool rising) => throw new InvalidOperationException($"{Type} has no edges.");

    public abstract void InjectValues(IReadOnlyList<KeyValuePair<string, double>> values);

    /// <summary>The simulated chip, or InvalidOperationException when the sensor is real hardware.</summary>
    protected TSimulator RequireSimulator() =>
        Simulator ?? throw new InvalidOperationException($"{Type} '{Name}' is not simulated; only simulated sensors take injected values.");

    /// <summary>
    /// Opens the bus device (or the simulator) and the driver on it. A chip that does not answer as expected becomes
    /// an IOException naming the sensor, the address and the bus, with <paramref name="hint"/> on what to check.
    /// </summary>
    protected TDriver OpenDriver<TDriver>(Func<I2cDevice, TDriver> create, string part, string hint)
    {
        ArgumentNullException.ThrowIfNull(create);
        I2cDevice device = Simulator ?? LinuxI2c.Open(Bus, Address);
        try
        {
            return create(device);
        }
        catch (IOException ex)
        {
            device.Dispose();
            throw new IOException(
                string.Create(CultureInfo.InvariantCulture, $"{Type} '{Name}' at 0x{Address:X2} on {LinuxI2c.DeviceNode(Bus)} did not respond as {part}: {ex.Message} ") +
                string.Create(CultureInfo.InvariantCulture, $"Check the wiring and the address (i2cdetect -y {Bus} lists what answers on the bus; {hint})."),
                ex);
        }
        catch
        {
            device.Dispose();
            throw;
        }
    }
}
