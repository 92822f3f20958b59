namespace EdgeRuntime.Sensors;

/// <summary>A sensor's stream broke while someone read it: the sensor failed, or stopped delivering.</summary>
public sealed class SensorStreamException(string sensor, string reason) : IOException($"sensor '{sensor}' {reason}")
{
    public string Sensor { get; } = sensor;
}
