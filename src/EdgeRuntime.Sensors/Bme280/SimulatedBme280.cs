using System.Buffers.Binary;
using EdgeRuntime.Sensors.I2c;

namespace EdgeRuntime.Sensors.Bme280;

/// <summary>
/// A BME280 register model: chip id, soft reset, ctrl_hum/ctrl_meas/config, status, factory calibration and the
/// measurement data registers. It holds the physical temperature, pressure and humidity (settable at any time) and
/// turns them into the raw ADC words that the datasheet's compensation formulas map back onto those values, so a host
/// driver that reads calibration and compensates (Iot.Device.Bmxx80.Bme280 does) gets the set values back.
/// </summary>
/// <remarks>
/// Modes as on the chip: after reset it sleeps and the data registers hold their reset value (0x80000/0x8000); writing
/// ctrl_meas with forced mode starts one conversion, which finishes after the datasheet's typical measurement time,
/// latches the data registers and puts the chip back to sleep (status bit 3 is set meanwhile); in normal mode the data
/// registers are fresh on every read. A measurement whose oversampling is 0 (skipped) yields the reset value.
/// Resolution follows the oversampling as the datasheet states (16 bit at x1 up to 20 bit at x16, 20 bit with the IIR
/// filter on; humidity always 16 bit).
/// </remarks>
public sealed class SimulatedBme280 : SimulatedI2cDevice
{
    public const byte DefaultChipId = 0x60;

    private const byte CalibrationFirst = 0x88; // dig_T1 .. dig_P9 (little-endian words), 0x88..0x9F
    private const byte DigH1 = 0xA1;
    private const byte HumidityCalibrationFirst = 0xE1; // dig_H2 .. dig_H6, 0xE1..0xE7
    private const byte ChipIdRegister = 0xD0;
    private const byte ResetRegister = 0xE0;
    private const byte CtrlHum = 0xF2;
    private const byte Status = 0xF3;
    private const byte CtrlMeas = 0xF4;
    private const byte Config = 0xF5;
    private const byte DataFirst = 0xF7; // press_msb .. hum_lsb, 0xF7..0xFE
    private const byte DataLast = 0xFE;
    private const byte ResetCommand = 0xB6;

    // Raw values the chip reports for a skipped measurement and after reset.
    private const int SkippedTemperatureOrPressure = 0x80000;
    private const int SkippedHumidity = 0x8000;

    // Calibration: the BMP280 datasheet's worked example for temperature and pressure (section 3.12, which gives
    // 25.08 °C and 100653 Pa for adc_T 519888 and adc_P 415148), and the humidity trimming values typical of real
    // BME280 parts. Realistic values make the round trip exercise the same arithmetic a real chip does.
    private const ushort T1 = 27504;
    private const short T2 = 26435;
    private const short T3 = -1000;
    private const ushort P1 = 36477;
    private const short P2 = -10685;
    private const short P3 = 3024;
    private const short P4 = 2855;
    private const short P5 = 140;
    private const short P6 = -7;
    private const short P7 = 15500;
    private const short P8 = -14600;
    private const short P9 = 6000;
    private const byte H1 = 75;
    private const short H2 = 362;
    private const byte H3 = 0;
    private const short H4 = 313;
    private const short H5 = 50;
    private const sbyte H6 = 30;

    private double _temperature = 21.0;
    private double _pressure = 1013.25;
    private double _humidity = 45.0;
    private byte _chipId = DefaultChipId;

    // ctrl_hum only takes effect at the next ctrl_meas write (datasheet 5.4.3), so the effective value is latched there.
    private int _humidityOversampling;

    // A forced conversion in flight: its result and when it is done (timestamp ticks of _time; 0 = none).
    private long _conversionDone;
    private readonly TimeProvider _time;
    private Measurement _pending;

    /// <param name="timeProvider">
    /// Times forced conversions. The binding sleeps the measurement time on the real clock, so a source's simulator keeps
    /// the system one; a test of the chip alone moves a fake one.
    /// </param>
    public SimulatedBme280(int busId = 1, int deviceAddress = 0x76, TimeProvider? timeProvider = null)
        : base(busId, deviceAddress)
    {
        _time = timeProvider ?? TimeProvider.System;
        lock (SyncRoot)
        {
            PowerOnReset();
        }
    }

    /// <summary>The value at 0xD0; set another (0x58 = BMP280) to simulate the wrong chip at the address.</summary>
    public byte ChipId
    {
        get
        {
            lock (SyncRoot)
            {
                return _chipId;
            }
        }

        set
        {
            lock (SyncRoot)
            {
                _chipId = value;
                SetRegister(ChipIdRegister, value);
            }
        }
    }

    /// <summary>Ambient temperature in °C that the next conversion measures.</summary>
    public double TemperatureCelsius
    {
        get => Get(ref _temperature);
        set => Set(ref _temperature, value, nameof(TemperatureCelsius));
    }

    /// <summary>Barometric pressure in hPa that the next conversion measures.</summary>
    public double PressureHectopascals
    {
        get => Get(ref _pressure);
        set => Set(ref _pressure, value, nameof(PressureHectopascals));
    }

    /// <summary>Relative humidity in % that the next conversion measures (the compensation clamps to 0..100).</summary>
    public double HumidityPercent
    {
        get => Get(ref _humidity);
        set => Set(ref _humidity, value, nameof(HumidityPercent));
    }

    // Bosch sensors take (register, value) pairs on a multi-byte write.
    protected override bool PairedWrites => true;

    protected override bool IsWritable(byte register) =>
        register is ResetRegister or CtrlHum or CtrlMeas or Config;

    protected override void OnRegisterWritten(byte register, byte value)
    {
        switch (register)
        {
            case ResetRegister:
                // The register always reads 0; only the magic value resets, anything else is ignored.
                SetRegister(ResetRegister, 0);
                if (value == ResetCommand)
                {
                    PowerOnReset();
                }

                break;
            case CtrlMeas:
                _humidityOversampling = GetRegister(CtrlHum) & 0b111;
                if ((value & 0b11) is 0b01 or 0b10)
                {
                    StartForcedConversion();
                }
                else
                {
                    // Leaving forced mode by hand abandons the conversion.
                    _conversionDone = 0;
                }

                break;
        }
    }

    protected override void OnReading(byte register, int count)
    {
        if (_conversionDone != 0 && _time.GetTimestamp() >= _conversionDone)
        {
            // The conversion ended: results become visible and the chip goes back to sleep (mode bits 00).
            _conversionDone = 0;
            StoreData(_pending);
            SetRegister(CtrlMeas, (byte)(GetRegister(CtrlMeas) & 0b1111_1100));
        }

        if ((GetRegister(CtrlMeas) & 0b11) == 0b11 && Touches(register, count, DataFirst, DataLast))
        {
            // Normal mode converts continuously; the newest result is always there.
            StoreData(Measure());
        }

        SetRegister(Status, _conversionDone != 0 ? (byte)0b0000_1000 : (byte)0);
    }

    private double Get(ref double field)
    {
        lock (SyncRoot)
        {
            return field;
        }
    }

    private void Set(ref double field, double value, string name)
    {
        if (!double.IsFinite(value))
        {
            throw new ArgumentOutOfRangeException(name, value, "The value must be a finite number.");
        }

        lock (SyncRoot)
        {
            field = value;
        }
    }

    private void PowerOnReset()
    {
        ClearRegisters();
        _humidityOversampling = 0;
        _conversionDone = 0;
        SetRegister(ChipIdRegister, _chipId);

        Span<byte> words = stackalloc byte[24];
        ReadOnlySpan<short> values = [unchecked((short)T1), T2, T3, unchecked((short)P1), P2, P3, P4, P5, P6, P7, P8, P9];
        for (int i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteInt16LittleEndian(words[(2 * i)..], values[i]);
        }

        SetRegisters(CalibrationFirst, words);
        SetRegister(DigH1, H1);

        // dig_H4 and dig_H5 are 12-bit values sharing 0xE5: H4 = E4[7:0] E5[3:0], H5 = E6[7:0] E5[7:4].
        ReadOnlySpan<byte> humidity =
        [
            (byte)(H2 & 0xFF), (byte)(H2 >> 8), H3,
            (byte)(H4 >> 4), (byte)((H4 & 0x0F) | ((H5 & 0x0F) << 4)), (byte)(H5 >> 4),
            unchecked((byte)H6),
        ];
        SetRegisters(HumidityCalibrationFirst, humidity);

        StoreData(new Measurement(SkippedTemperatureOrPressure, SkippedTemperatureOrPressure, SkippedHumidity));
    }

    private void StartForcedConversion()
    {
        byte ctrlMeas = GetRegister(CtrlMeas);
        int t = OversamplingFactor(ctrlMeas >> 5);
        int p = OversamplingFactor((ctrlMeas >> 2) & 0b111);
        int h = OversamplingFactor(_humidityOversampling);

        // Typical measurement time, datasheet 9.1: 1 + 2·T [+ 2·P + 0.5] [+ 2·H + 0.5] ms.
        double ms = 1 + (2.0 * t) + (p > 0 ? (2.0 * p) + 0.5 : 0) + (h > 0 ? (2.0 * h) + 0.5 : 0);
        _pending = Measure();
        _conversionDone = _time.GetTimestamp() + (long)(ms * _time.TimestampFrequency / 1000.0);
    }

    private Measurement Measure()
    {
        byte ctrlMeas = GetRegister(CtrlMeas);
        int osrsT = ctrlMeas >> 5;
        int osrsP = (ctrlMeas >> 2) & 0b111;
        bool filtered = ((GetRegister(Config) >> 2) & 0b111) != 0;

        // Pressure and humidity compensation depend on t_fine, which the host computes from the temperature word it
        // reads; invert against that same (quantised) word so the host's t_fine is the one assumed here.
        int adcT = Invert(20, filtered ? 20 : Resolution(osrsT), _temperature, increasing: true, static (adc, _) => TemperatureFine(adc) / 5120.0, 0);
        double tFine = TemperatureFine(adcT);
        int adcP = Invert(20, filtered ? 20 : Resolution(osrsP), _pressure * 100.0, increasing: false, static (adc, tf) => Pressure(adc, tf), tFine);
        int adcH = Invert(16, 16, _humidity, increasing: true, static (adc, tf) => Humidity(adc, tf), tFine);

        return new Measurement(
            osrsT == 0 ? SkippedTemperatureOrPressure : adcT,
            osrsP == 0 ? SkippedTemperatureOrPressure : adcP,
            _humidityOversampling == 0 ? SkippedHumidity : adcH);
    }

    private void StoreData(Measurement m)
    {
        // 20-bit words are msb, lsb, xlsb[7:4]; humidity is msb, lsb.
        ReadOnlySpan<byte> data =
        [
            (byte)(m.Pressure >> 12), (byte)(m.Pressure >> 4), (byte)((m.Pressure & 0x0F) << 4),
            (byte)(m.Temperature >> 12), (byte)(m.Temperature >> 4), (byte)((m.Temperature & 0x0F) << 4),
            (byte)(m.Humidity >> 8), (byte)m.Humidity,
        ];
        SetRegisters(DataFirst, data);
    }

    private static int OversamplingFactor(int code) => code == 0 ? 0 : 1 << (Math.Min(code, 5) - 1);

    // Datasheet 3.4.2/3.4.3 (filter off): 16 bit at x1, one more bit per doubling, 20 bit at x16.
    private static int Resolution(int code) => code == 0 ? 16 : 15 + Math.Min(code, 5);

    /// <summary>
    /// The raw word (a multiple of 2^(bits - resolution)) whose compensated value is nearest to <paramref name="target"/>.
    /// Binary search works because each compensation is monotonic in its raw word over the whole ADC range.
    /// </summary>
    private static int Invert(int bits, int resolution, double target, bool increasing, Func<int, double, double> compensate, double tFine)
    {
        int shift = bits - resolution;
        double sign = increasing ? 1 : -1;
        int lo = 0;
        int hi = (1 << resolution) - 1;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (sign * compensate(mid << shift, tFine) < sign * target)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        if (lo > 0 && Math.Abs(compensate((lo - 1) << shift, tFine) - target) <= Math.Abs(compensate(lo << shift, tFine) - target))
        {
            lo--;
        }

        return lo << shift;
    }

    // The datasheet's floating-point compensation (BME280 datasheet 8.1), which is what Iot.Device.Bmxx80 evaluates;
    // like that driver, t_fine is kept as a double rather than truncated.
    private static double TemperatureFine(int adcT)
    {
        double a = ((adcT / 16384.0) - (T1 / 1024.0)) * T2;
        double b = (adcT / 131072.0) - (T1 / 8192.0);
        return a + (b * b * T3);
    }

    private static double Pressure(int adcP, double tFine)
    {
        double v1 = (tFine / 2.0) - 64000.0;
        double v2 = v1 * v1 * P6 / 32768.0;
        v2 += v1 * P5 * 2.0;
        v2 = (v2 / 4.0) + (P4 * 65536.0);
        v1 = ((P3 * v1 * v1 / 524288.0) + (P2 * v1)) / 524288.0;
        v1 = (1.0 + (v1 / 32768.0)) * P1;
        if (v1 == 0)
        {
            return 0;
        }

        double p = 1048576.0 - adcP;
        p = (p - (v2 / 4096.0)) * 6250.0 / v1;
        return p + (((P9 * p * p / 2147483648.0) + (p * P8 / 32768.0) + P7) / 16.0);
    }

    private static double Humidity(int adcH, double tFine)
    {
        double x = tFine - 76800.0;
        x = (adcH - ((H4 * 64.0) + (H5 / 16384.0 * x))) *
            (H2 / 65536.0 * (1.0 + (H6 / 67108864.0 * x * (1.0 + (H3 / 67108864.0 * x)))));
        x *= 1.0 - (H1 * x / 524288.0);
        return Math.Clamp(x, 0, 100);
    }

    private readonly record struct Measurement(int Temperature, int Pressure, int Humidity);
}
