using EdgeRuntime.Sensors.Alsa;
using EdgeRuntime.Sensors.Bme280;
using EdgeRuntime.Sensors.Gpio;
using EdgeRuntime.Sensors.Mpu6050;
using EdgeRuntime.Sensors.Replay;
using EdgeRuntime.Sensors.V4l2;

namespace EdgeRuntime.Sensors;

/// <summary>Builds a source from its configuration entry. Paths are taken relative to <paramref name="baseDirectory"/>.</summary>
public static class SensorFactory
{
    public static readonly string[] Types = ["gpio", "bme280", "mpu6050", "alsa", "v4l2", "wav", "series", "images"];

    public static ISensorSource Create(SensorConfig config, GpioChips chips, string baseDirectory)
    {
        if (string.IsNullOrWhiteSpace(config.Name))
        {
            throw new ArgumentException("A sensor has no \"name\".");
        }

        if (config.Simulated && config.Type is not ("gpio" or "bme280" or "mpu6050"))
        {
            throw new ArgumentException($"Sensor '{config.Name}': \"simulated\" applies to gpio, bme280 and mpu6050; a {config.Type} sensor replays or captures real data.");
        }

        return config.Type switch
        {
            "gpio" => new GpioEdgeSource(config, chips),
            "bme280" => new Bme280Source(config),
            "mpu6050" => new Mpu6050Source(config),
            "alsa" => new AlsaCaptureSource(config),
            "v4l2" => new V4l2CameraSource(config),
            "wav" => new WavReplaySource(config, RequirePath(config, baseDirectory)),
            "series" => new SeriesReplaySource(config, RequirePath(config, baseDirectory)),
            "images" => new ImageSequenceSource(config, RequirePath(config, baseDirectory)),
            _ => throw new ArgumentException($"Sensor '{config.Name}' has type '{config.Type}'; known types: {string.Join(", ", Types)}."),
        };
    }

    private static string RequirePath(SensorConfig config, string baseDirectory) =>
        config.Path is { Length: > 0 } path
            ? Path.GetFullPath(path, baseDirectory)
            : throw new ArgumentException($"Sensor '{config.Name}': a {config.Type} sensor needs \"path\" (the recording).");
}
