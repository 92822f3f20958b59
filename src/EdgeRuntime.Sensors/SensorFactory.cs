using EdgeRuntime.Sensors.Alsa;
using EdgeRuntime.Sensors.Bme280;
using EdgeRuntime.Sensors.Gpio;
using EdgeRuntime.Sensors.Mpu6050;
using EdgeRuntime.Sensors.Replay;
using EdgeRuntime.Sensors.V4l2;

namespace EdgeRuntime.Sensors;

/// <summary>
/// Builds a source from its configuration entry. Paths are taken relative to <paramref name="baseDirectory"/>. Every
/// source gets <paramref name="timeProvider"/> (pass the sensor host's): their frames' timestamps are compared with the
/// host's rings and the triggers' windows, so all must come from one clock.
/// </summary>
public static class SensorFactory
{
    public static readonly string[] Types = ["gpio", "bme280", "mpu6050", "alsa", "v4l2", "wav", "series", "images"];

    public static ISensorSource Create(SensorConfig config, GpioChips chips, string baseDirectory, TimeProvider? timeProvider = null)
    {
        if (string.IsNullOrWhiteSpace(config.Name))
        {
            throw new ArgumentException("A sensor has no \"name\".");
        }

        if (config.Simulated && config.Type is not ("gpio" or "bme280" or "mpu6050"))
        {
            throw new ArgumentException($"Sensor '{config.Name}': \"simulated\" applies to gpio, bme280 and mpu6050; a {config.Type} sensor replays or captures real data.");
        }

        if (config.OnDemand && config.Type is not ("v4l2" or "images"))
        {
            throw new ArgumentException($"Sensor '{config.Name}': \"onDemand\" applies to cameras (v4l2, images); a {config.Type} sensor captures all the time.");
        }

        var time = timeProvider ?? TimeProvider.System;
        return config.Type switch
        {
            "gpio" => new GpioEdgeSource(config, chips) { TimeProvider = time },
            "bme280" => new Bme280Source(config) { TimeProvider = time },
            "mpu6050" => new Mpu6050Source(config) { TimeProvider = time },
            "alsa" => new AlsaCaptureSource(config) { TimeProvider = time },
            "v4l2" => new V4l2CameraSource(config) { TimeProvider = time },
            "wav" => new WavReplaySource(config, RequirePath(config, baseDirectory)) { TimeProvider = time },
            "series" => new SeriesReplaySource(config, RequirePath(config, baseDirectory)) { TimeProvider = time },
            "images" => new ImageSequenceSource(config, RequirePath(config, baseDirectory)) { TimeProvider = time },
            _ => throw new ArgumentException($"Sensor '{config.Name}' has type '{config.Type}'; known types: {string.Join(", ", Types)}."),
        };
    }

    private static string RequirePath(SensorConfig config, string baseDirectory) =>
        config.Path is { Length: > 0 } path
            ? Path.GetFullPath(path, baseDirectory)
            : throw new ArgumentException($"Sensor '{config.Name}': a {config.Type} sensor needs \"path\" (the recording).");
}
