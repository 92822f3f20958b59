using EdgeRuntime.Protocol;
using EdgeRuntime.Sensors;

namespace EdgeRuntime.Pipelines.Live;

/// <summary>
/// One run's reader of one sensor: a position in the sensor's shared ring (no copy of the stream per reader) and a hold
/// on the sensor, released when the reader is disposed. It waits only for the frames it asks for, turns a broken or
/// silent sensor into <see cref="ErrorCodes.SensorFailed"/> and a reader left behind into
/// <see cref="ErrorCodes.SensorOverrun"/>, and maps the ring's timestamps onto the run's clock.
/// </summary>
internal sealed class LiveStream(SensorHost host, string input, string sensor, SampleRing ring, IDisposable hold, long runStart) : IDisposable
{
    private readonly TimeProvider _time = host.TimeProvider;

    public string Sensor => sensor;

    public SampleRing Ring => ring;

    /// <summary>How long the sensor may deliver nothing before the run gives up on it: 2 s, or four sample periods if longer.</summary>
    public TimeSpan StallLimit { get; } = TimeSpan.FromSeconds(Math.Max(2, 4 / Math.Max(host.Find(sensor)!.SampleRate, 1e-3)));

    /// <summary>Run-clock milliseconds of a sensor timestamp (negative: before the run started).</summary>
    public double ToRunMs(long timestamp) => (timestamp - runStart) * 1000.0 / _time.TimestampFrequency;

    /// <summary>Copies frames [first, first + count) once they are all in, and gives the time the last was taken.</summary>
    public async ValueTask<long> ReadAsync(long first, int count, float[] destination, int unitsDone, CancellationToken cancellationToken)
    {
        long seen = ring.Written;
        while (true)
        {
            switch (ring.TryCopy(first, count, destination, out long taken))
            {
                case RingRead.Copied:
                    return taken;
                case RingRead.Overwritten:
                    throw new EdgeRuntimeException(ErrorCodes.SensorOverrun, $"{input}: the run fell behind sensor '{sensor}': frames it had not read were overwritten (its ring holds {ring.Capacity} frames; raise the sensor's bufferMs).");
            }

            bool arrived;
            try
            {
                arrived = await ring.WaitForCountAsync(first + count, StallLimit, cancellationToken).ConfigureAwait(false);
            }
            catch (SensorStreamException e)
            {
                throw new EdgeRuntimeException(ErrorCodes.SensorFailed, $"{input}: {e.Message}, after {unitsDone} units of this run.");
            }

            long now = ring.Written;
            if (!arrived && now == seen)
            {
                var (state, message) = host.StateOf(sensor);
                string silent = $"delivered nothing for {StallLimit.TotalSeconds:0.#} s while a live run waited";
                host.ReportStalled(sensor, silent);
                throw new EdgeRuntimeException(ErrorCodes.SensorFailed, $"{input}: sensor '{sensor}' {silent} (state {state}{(message is null ? "" : $": {message}")}), after {unitsDone} units of this run.");
            }

            seen = now;
        }
    }

    public void Dispose() => hold.Dispose();
}
