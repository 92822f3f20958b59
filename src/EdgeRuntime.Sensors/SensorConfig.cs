namespace EdgeRuntime.Sensors;

/// <summary>
/// One entry of the daemon configuration's "sensors" list. Which fields apply depends on Type; docs/configuration.md
/// lists them per type. Setters (not init) so the source-generated reader keeps defaults for absent fields.
/// </summary>
public sealed record SensorConfig
{
    public string Name { get; set; } = "";

    /// <summary>gpio, bme280, mpu6050, alsa, v4l2, wav, series, images.</summary>
    public string Type { get; set; } = "";

    /// <summary>gpio, bme280, mpu6050: use a simulated device fed by the inject message instead of hardware.</summary>
    public bool Simulated { get; set; }

    /// <summary>gpio: the line offset on the board profile's GPIO chip.</summary>
    public int Pin { get; set; } = -1;

    /// <summary>gpio: rising, falling or both.</summary>
    public string Edge { get; set; } = "rising";

    /// <summary>gpio: edges closer than this to the last accepted edge are bounce and are dropped.</summary>
    public double DebounceMs { get; set; } = 20;

    /// <summary>bme280, mpu6050: the I2C bus number (/dev/i2c-N).</summary>
    public int Bus { get; set; } = 1;

    /// <summary>bme280 (default 0x76), mpu6050 (default 0x68): the 7-bit I2C address.</summary>
    public int? Address { get; set; }

    /// <summary>Polled sensors, v4l2, series and images: samples per second.</summary>
    public double SampleHz { get; set; } = 1;

    /// <summary>How much history to keep for pre-trigger windows, in milliseconds (0: none).</summary>
    public double BufferMs { get; set; }

    /// <summary>alsa: the PCM name (default, hw:1,0, plughw:...); v4l2: the device node.</summary>
    public string? Device { get; set; }

    /// <summary>alsa: capture rate in Hz (mono, 16-bit).</summary>
    public int SampleRate { get; set; } = 16000;

    /// <summary>alsa and wav: samples per delivered frame.</summary>
    public int ChunkSamples { get; set; } = 512;

    /// <summary>v4l2: capture size.</summary>
    public int Width { get; set; } = 320;

    public int Height { get; set; } = 240;

    /// <summary>wav, series, images: the recording, relative to the configuration file's folder.</summary>
    public string? Path { get; set; }

    /// <summary>Replay: start again at the end instead of stopping.</summary>
    public bool Loop { get; set; }

    /// <summary>
    /// v4l2 and images: capture only while a live pipeline run reads the camera; paused otherwise (no frames taken,
    /// converted or buffered, so a pre-trigger window on it holds only what was taken while a run read it).
    /// </summary>
    public bool OnDemand { get; set; }

    /// <summary>Replay: pace at the recording's own rate (true) or as fast as the consumers take it (false).</summary>
    public bool Realtime { get; set; } = true;
}
