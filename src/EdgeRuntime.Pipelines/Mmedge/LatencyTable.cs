using EdgeRuntime.Protocol;

namespace EdgeRuntime.Pipelines.Mmedge;

/// <summary>
/// Milliseconds per call of each pipeline model on this device, keyed by model and unit length (0 for models whose
/// input does not depend on the unit). Profiled at load and again when measured latency drifts from it.
/// </summary>
public sealed class LatencyTable
{
    private readonly Lock _gate = new();
    private readonly Dictionary<(string Model, double UnitMs), double> _ms = [];

    public double this[string model, double unitMs]
    {
        get
        {
            lock (_gate)
            {
                return _ms.TryGetValue((model, unitMs), out double ms)
                    ? ms
                    : throw new KeyNotFoundException($"No profiled latency for model '{model}' at {unitMs} ms units.");
            }
        }

        set
        {
            lock (_gate)
            {
                _ms[(model, unitMs)] = value;
            }
        }
    }

    public bool TryGet(string model, double unitMs, out double ms)
    {
        lock (_gate)
        {
            return _ms.TryGetValue((model, unitMs), out ms);
        }
    }

    public LatencyEntry[] Entries()
    {
        lock (_gate)
        {
            return [.. _ms.OrderBy(e => e.Key.Model, StringComparer.Ordinal).ThenBy(e => e.Key.UnitMs).Select(e => new LatencyEntry(e.Key.Model, e.Key.UnitMs, Math.Round(e.Value, 4)))];
        }
    }
}
