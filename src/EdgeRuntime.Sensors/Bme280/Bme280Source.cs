using EdgeRuntime.Sensors.I2c;
using Bme280Device = Iot.Device.Bmxx80.Bme280;

namespace EdgeRuntime.Sensors.Bme280;

/// <summary>
/// A Bosch BME280 (temperature, pressure, humidity) on I2C, read through Iot.Device.Bmxx80 in forced mode: each sample
/// triggers one conversion and waits for it, which is the datasheet's recommendation for low rates and keeps the chip
/// from warming itself. Channels: temperature (°C), pressure (hPa), humidity (%RH).
/// </summary>
/// <remarks>
/// With <see cref="SensorConfig.Simulated"/> the binding talks to <see cref="Simulator"/> instead of /dev/i2c-N; that
/// one simulated chip lives as long as the source, so injected values survive the reopen that follows a failure.
/// </remarks>
public sealed class Bme280Source : I2cSensorSource<SimulatedBme280>
{
    public const int DefaultAddress = 0x76;

    private static readonly string[] s_channels = ["temperature", "pressure", "humidity"];

    private Bme280Device? _sensor;

    public Bme280Source(SensorConfig config)
        : base(config, DefaultAddress, (bus, address) => new SimulatedBme280(bus, address))
    {
    }

    public override string Type => "bme280";

    public override IReadOnlyList<string> Channels => s_channels;

    public override void InjectValues(IReadOnlyList<KeyValuePair<string, double>> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var simulator = RequireSimulator();

        // Check every entry before changing anything, so a bad message does not leave half of it applied.
        foreach (var (name, value) in values)
        {
            if (Array.IndexOf(s_channels, name) < 0)
            {
                throw new ArgumentException($"bme280 has no channel '{name}'; its channels are {string.Join(", ", s_channels)}.", nameof(values));
            }

            if (!double.IsFinite(value))
            {
                throw new ArgumentException($"The value for bme280 channel '{name}' must be a finite number.", nameof(values));
            }
        }

        foreach (var (name, value) in values)
        {
            switch (name)
            {
                case "temperature":
                    simulator.TemperatureCelsius = value;
                    break;
                case "pressure":
                    simulator.PressureHectopascals = value;
                    break;
                default:
                    simulator.HumidityPercent = value;
                    break;
            }
        }
    }

    // The constructor checks the chip id, reads the calibration, soft-resets and sets x1 oversampling for all three
    // measurements with the filter off; the chip is then asleep, so every Read() runs a forced conversion.
    protected override IDisposable Open() =>
        _sensor = OpenDriver(device => new Bme280Device(device), "a BME280", "a BME280 is at 0x76 or 0x77");

    protected override void Read(Span<float> values)
    {
        var sensor = _sensor ?? throw new InvalidOperationException("Read before Open.");

        // Read() sees the chip asleep, writes forced mode, sleeps the measurement time and reads the data registers.
        var result = sensor.Read();
        values[0] = Require(result.Temperature?.DegreesCelsius, "temperature");
        values[1] = Require(result.Pressure?.Hectopascals, "pressure");
        values[2] = Require(result.Humidity?.Percent, "humidity");
    }

    // The binding reports a skipped or failed measurement as a missing value; a sample with a hole in it is a failure
    // of the device, so it goes to the host's failure handling rather than downstream as NaN.
    private float Require(double? value, string channel) =>
        value is { } v && double.IsFinite(v)
            ? (float)v
            : throw new IOException($"bme280 '{Name}' returned no {channel} reading.");
}
