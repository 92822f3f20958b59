using System.Buffers.Binary;
using System.Numerics;
using EdgeRuntime.Sensors.I2c;

namespace EdgeRuntime.Sensors.Mpu6050;

/// <summary>
/// An MPU-6050 register model: WHO_AM_I, PWR_MGMT_1 with its self-clearing reset bit and sleep bit, the other
/// self-clearing reset bits, the gyro/accel configuration registers, and the sensor output registers (0x3B..0x48),
/// which it fills on every read with the set acceleration, angular rate and die temperature as big-endian 16-bit
/// two's complement at whatever full-scale range the host configured (saturating like the chip).
/// </summary>
/// <remarks>
/// After a reset the chip sleeps (PWR_MGMT_1 = 0x40) and its outputs stay frozen until the host clears the sleep bit,
/// as on the part. Scale: full scale / 32768 per LSB (±2 g → 16384 LSB/g, ±250 °/s → 131.072 LSB/(°/s)), which is the
/// nominal sensitivity the host drivers divide by.
/// </remarks>
public sealed class SimulatedMpu6050 : SimulatedI2cDevice
{
    public const byte DefaultWhoAmI = 0x68;

    private const byte GyroConfig = 0x1B;
    private const byte AccelConfig = 0x1C;
    private const byte IntStatus = 0x3A;
    private const byte DataFirst = 0x3B; // ACCEL_XOUT_H .. GYRO_ZOUT_L
    private const byte DataLast = 0x48;
    private const byte ExternalSensorDataLast = 0x60; // EXT_SENS_DATA_23
    private const byte SignalPathReset = 0x68;
    private const byte UserCtrl = 0x6A;
    private const byte PowerManagement1 = 0x6B;
    private const byte FifoCountHigh = 0x72;
    private const byte FifoCountLow = 0x73;
    private const byte WhoAmIRegister = 0x75;

    private const byte DeviceReset = 0x80;
    private const byte Sleep = 0x40;

    private Vector3 _acceleration = new(0, 0, 1); // lying flat: 1 g up the z axis
    private Vector3 _angularRate;
    private double _temperature = 25.0;
    private byte _whoAmI = DefaultWhoAmI;

    public SimulatedMpu6050(int busId = 1, int deviceAddress = 0x68)
        : base(busId, deviceAddress)
    {
        lock (SyncRoot)
        {
            PowerOnReset();
        }
    }

    /// <summary>The value at WHO_AM_I; set another (0x70 = MPU-6500, 0x71 = MPU-9250) to simulate the wrong chip.</summary>
    public byte WhoAmI
    {
        get
        {
            lock (SyncRoot)
            {
                return _whoAmI;
            }
        }

        set
        {
            lock (SyncRoot)
            {
                _whoAmI = value;
                SetRegister(WhoAmIRegister, value);
            }
        }
    }

    /// <summary>Specific force along x, y, z in g (at rest: the reaction to gravity, +1 g on the upward axis).</summary>
    public Vector3 AccelerationG
    {
        get
        {
            lock (SyncRoot)
            {
                return _acceleration;
            }
        }

        set
        {
            ThrowIfNotFinite(value, nameof(AccelerationG));
            lock (SyncRoot)
            {
                _acceleration = value;
            }
        }
    }

    /// <summary>Angular rate about x, y, z in degrees per second.</summary>
    public Vector3 AngularRateDps
    {
        get
        {
            lock (SyncRoot)
            {
                return _angularRate;
            }
        }

        set
        {
            ThrowIfNotFinite(value, nameof(AngularRateDps));
            lock (SyncRoot)
            {
                _angularRate = value;
            }
        }
    }

    /// <summary>Die temperature in °C, reported in TEMP_OUT with the MPU-6050 datasheet's 340 LSB/°C, 0 at 36.53 °C.</summary>
    public double TemperatureCelsius
    {
        get
        {
            lock (SyncRoot)
            {
                return _temperature;
            }
        }

        set
        {
            if (!double.IsFinite(value))
            {
                throw new ArgumentOutOfRangeException(nameof(TemperatureCelsius), value, "The value must be a finite number.");
            }

            lock (SyncRoot)
            {
                _temperature = value;
            }
        }
    }

    /// <summary>The accelerometer full scale the host configured (AFS_SEL): 2, 4, 8 or 16 g.</summary>
    public int AccelerometerFullScaleG
    {
        get
        {
            lock (SyncRoot)
            {
                return AccelFullScale();
            }
        }
    }

    /// <summary>The gyroscope full scale the host configured (FS_SEL): 250, 500, 1000 or 2000 °/s.</summary>
    public int GyroscopeFullScaleDps
    {
        get
        {
            lock (SyncRoot)
            {
                return GyroFullScale();
            }
        }
    }

    /// <summary>Whether the chip is in sleep mode (PWR_MGMT_1 bit 6), as it is after power-on and reset.</summary>
    public bool Sleeping
    {
        get
        {
            lock (SyncRoot)
            {
                return (GetRegister(PowerManagement1) & Sleep) != 0;
            }
        }
    }

    protected override bool IsWritable(byte register) =>
        register is not (WhoAmIRegister or IntStatus or FifoCountHigh or FifoCountLow)
        && register is not (>= DataFirst and <= ExternalSensorDataLast);

    protected override void OnRegisterWritten(byte register, byte value)
    {
        switch (register)
        {
            case PowerManagement1 when (value & DeviceReset) != 0:
                // DEVICE_RESET puts every register back to its power-on value and then clears itself.
                PowerOnReset();
                break;
            case SignalPathReset:
                // GYRO_RESET, ACCEL_RESET, TEMP_RESET: act once and clear themselves.
                SetRegister(SignalPathReset, (byte)(value & ~0b111));
                break;
            case UserCtrl:
                // FIFO_RESET, I2C_MST_RESET, SIG_COND_RESET clear themselves too.
                SetRegister(UserCtrl, (byte)(value & ~0b111));
                break;
        }
    }

    protected override void OnReading(byte register, int count)
    {
        if ((GetRegister(PowerManagement1) & Sleep) == 0 && Touches(register, count, DataFirst, DataLast))
        {
            Sample();
        }
    }

    private static void ThrowIfNotFinite(Vector3 value, string name)
    {
        if (!float.IsFinite(value.X) || !float.IsFinite(value.Y) || !float.IsFinite(value.Z))
        {
            throw new ArgumentOutOfRangeException(name, value, "Every component must be a finite number.");
        }
    }

    private void PowerOnReset()
    {
        // All registers are 0 after power-on except PWR_MGMT_1 (0x40: asleep) and WHO_AM_I.
        ClearRegisters();
        SetRegister(PowerManagement1, Sleep);
        SetRegister(WhoAmIRegister, _whoAmI);
    }

    private int AccelFullScale() => 2 << ((GetRegister(AccelConfig) >> 3) & 0b11);

    private int GyroFullScale() => 250 << ((GetRegister(GyroConfig) >> 3) & 0b11);

    private void Sample()
    {
        double accelLsb = 32768.0 / AccelFullScale();
        double gyroLsb = 32768.0 / GyroFullScale();
        Span<byte> data = stackalloc byte[14];
        BinaryPrimitives.WriteInt16BigEndian(data, ToRaw(_acceleration.X * accelLsb));
        BinaryPrimitives.WriteInt16BigEndian(data[2..], ToRaw(_acceleration.Y * accelLsb));
        BinaryPrimitives.WriteInt16BigEndian(data[4..], ToRaw(_acceleration.Z * accelLsb));
        BinaryPrimitives.WriteInt16BigEndian(data[6..], ToRaw((_temperature - 36.53) * 340.0));
        BinaryPrimitives.WriteInt16BigEndian(data[8..], ToRaw(_angularRate.X * gyroLsb));
        BinaryPrimitives.WriteInt16BigEndian(data[10..], ToRaw(_angularRate.Y * gyroLsb));
        BinaryPrimitives.WriteInt16BigEndian(data[12..], ToRaw(_angularRate.Z * gyroLsb));
        SetRegisters(DataFirst, data);
    }

    // Out-of-range input saturates at the ends of the 16-bit range, as the ADC does.
    private static short ToRaw(double lsb) => (short)Math.Clamp(Math.Round(lsb), short.MinValue, short.MaxValue);
}
