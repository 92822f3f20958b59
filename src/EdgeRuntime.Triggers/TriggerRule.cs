using EdgeRuntime.Protocol;

namespace EdgeRuntime.Triggers;

/// <summary>
/// One configured trigger at run time: its counters, hold-off clock and threshold arming. Hold-off is measured between
/// the firings' own timestamps, in ticks of <paramref name="time"/> (the sensors' clock, which stamped them).
/// </summary>
internal sealed class TriggerRule(TriggerConfig config, string when, TimeProvider time)
{
    private readonly Lock _gate = new();
    private long _lastFired = long.MinValue;
    private long _fired, _heldOff, _completed, _failed, _dropped;
    private DateTimeOffset? _lastFiredAt;

    public TriggerConfig Config { get; } = config;

    public string Name => Config.Name;

    public string When { get; } = when;

    /// <summary>Threshold and model triggers: true while waiting for the next crossing.</summary>
    public bool Armed { get; set; } = true;

    /// <summary>Threshold triggers: the watched channel's index, resolved at start.</summary>
    public int Channel { get; set; } = -1;

    /// <summary>Takes a firing unless it falls within the hold-off of the previous one.</summary>
    public bool TryFire(long timestamp)
    {
        long holdOff = (long)(Config.On.HoldOffMs * time.TimestampFrequency / 1000);
        lock (_gate)
        {
            // Edges from concurrent callbacks can arrive a few ticks out of order; without a hold-off none is held.
            if (holdOff > 0 && _lastFired != long.MinValue && timestamp - _lastFired < holdOff)
            {
                _heldOff++;
                return false;
            }

            _lastFired = timestamp;
            _fired++;
            _lastFiredAt = time.GetUtcNow();
            return true;
        }
    }

    public void Completed() => Interlocked.Increment(ref _completed);

    public void Failed() => Interlocked.Increment(ref _failed);

    public void Dropped() => Interlocked.Increment(ref _dropped);

    public TriggerStatus Status()
    {
        lock (_gate)
        {
            return new TriggerStatus(Name, When, _fired, _heldOff, Interlocked.Read(ref _completed), Interlocked.Read(ref _failed))
            {
                LastFiredAt = _lastFiredAt,
                Dropped = Interlocked.Read(ref _dropped),
            };
        }
    }
}
