namespace EdgeRuntime.Pipelines.Mmedge;

/// <summary>
/// Predicts a configuration's post-sensing latency from the latency table, by replaying its arrival schedule: each
/// modality's units arrive at the end of their interval and queue for its encoder (finish = max(arrival, previous
/// finish) + encode time); its aggregator follows the last unit; the fusion head follows the later modality. The
/// prediction is the result's time minus the last unit's arrival, without skipping (a skip only ever shortens it).
/// </summary>
public static class LatencyPredictor
{
    /// <summary>One modality's schedule: the arrival time of every used unit, its encode and aggregate times.</summary>
    public sealed record ModalitySchedule(double[] ArrivalsMs, double EncodeMs, double AggregateMs);

    public static double PostSensingMs(IReadOnlyList<ModalitySchedule> modalities, double fusionMs)
    {
        double lastArrival = 0, result = 0;
        foreach (var m in modalities)
        {
            double finish = 0;
            foreach (double arrival in m.ArrivalsMs)
            {
                finish = Math.Max(arrival, finish) + m.EncodeMs;
            }

            lastArrival = Math.Max(lastArrival, m.ArrivalsMs.Length == 0 ? 0 : m.ArrivalsMs[^1]);
            result = Math.Max(result, finish + m.AggregateMs);
        }

        return result + fusionMs - lastArrival;
    }
}
