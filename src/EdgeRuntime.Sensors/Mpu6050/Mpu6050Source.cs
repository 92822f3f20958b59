using System.Numerics;
using EdgeRuntime.Sensors.I2c;
using Mpu6050Device = Iot.Device.Imu.Mpu6050;

namespace EdgeRuntime.Sensors.Mpu6050;

/// <summary>
/// An InvenSense MPU-6050 IMU on I2C, read through Iot.Device.Imu.Mpu6050 at its configuration (±2 g, ±250 °/s).
/// Channels: ax, ay, az in g and gx, gy, gz in degrees per second.
/// </summary>
/// <remarks>
/// With <see cref="SensorConfig.Simulated"/> the binding talks to <see cref="Simulator"/> instead of /dev/i2c-N; that
/// one simulated chip lives as long as the source, so injected values survive the reopen that follows a failure.
/// </remarks>
public sealed class Mpu6050Source : I2cSensorSource<SimulatedMpu6050>
{
    public const int DefaultAddress = 0x68;

    // The binding returns acceleration in m/s², scaling raw counts by this constant (not standard gravity,
    // 9.80665). Dividing by the same constant recovers the chip's own unit, g, exactly; standard gravity would leave a
    // 36 ppm scale error, more than one LSB near full scale.
    private const float BindingGravity = 9.807f;

    private static readonly string[] s_channels = ["ax", "ay", "az", "gx", "gy", "gz"];

    private Mpu6050Device? _sensor;

    public Mpu6050Source(SensorConfig config)
        : base(config, DefaultAddress, (bus, address) => new SimulatedMpu6050(bus, address))
    {
    }

    public override string Type => "mpu6050";

    public override IReadOnlyList<string> Channels => s_channels;

    public override void InjectValues(IReadOnlyList<KeyValuePair<string, double>> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var simulator = RequireSimulator();

        // Apply to copies and store once, so a bad entry leaves everything unchanged.
        Vector3 acceleration = simulator.AccelerationG;
        Vector3 angularRate = simulator.AngularRateDps;
        foreach (var (name, value) in values)
        {
            if (!float.IsFinite((float)value))
            {
                throw new ArgumentException($"The value for mpu6050 channel '{name}' must be a finite number.", nameof(values));
            }

            switch (name)
            {
                case "ax":
                    acceleration.X = (float)value;
                    break;
                case "ay":
                    acceleration.Y = (float)value;
                    break;
                case "az":
                    acceleration.Z = (float)value;
                    break;
                case "gx":
                    angularRate.X = (float)value;
                    break;
                case "gy":
                    angularRate.Y = (float)value;
                    break;
                case "gz":
                    angularRate.Z = (float)value;
                    break;
                default:
                    throw new ArgumentException($"mpu6050 has no channel '{name}'; its channels are {string.Join(", ", s_channels)}.", nameof(values));
            }
        }

        simulator.AccelerationG = acceleration;
        simulator.AngularRateDps = angularRate;
    }

    // The constructor resets the chip (PWR_MGMT_1 = 0x80), wakes it (0x01), waiting 100 ms after each, checks WHO_AM_I
    // and sets the bandwidths and ±250 °/s, ±2 g, reading each configuration register back.
    protected override IDisposable Open() =>
        _sensor = OpenDriver(device => new Mpu6050Device(device), "an MPU-6050", "an MPU-6050 is at 0x68, or 0x69 with AD0 high");

    protected override void Read(Span<float> values)
    {
        var sensor = _sensor ?? throw new InvalidOperationException("Read before Open.");

        // Two burst reads (ACCEL_XOUT_H.., GYRO_XOUT_H..), each followed by a read of SMPLRT_DIV for the scale.
        Vector3 acceleration = sensor.GetAccelerometer() / BindingGravity;
        Vector3 angularRate = sensor.GetGyroscopeReading();
        values[0] = Require(acceleration.X, "ax");
        values[1] = Require(acceleration.Y, "ay");
        values[2] = Require(acceleration.Z, "az");
        values[3] = Require(angularRate.X, "gx");
        values[4] = Require(angularRate.Y, "gy");
        values[5] = Require(angularRate.Z, "gz");
    }

    private float Require(float value, string channel) =>
        float.IsFinite(value) ? value : throw new IOException($"mpu6050 '{Name}' returned no {channel} reading.");
}
