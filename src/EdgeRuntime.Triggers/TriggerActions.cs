using EdgeRuntime.Sensors.Gpio;

namespace EdgeRuntime.Triggers;

/// <summary>
/// The output actions of every trigger (GPIO pulses), driven once a result is stored. Model runs and captions share
/// them; a failed action is logged and never fails the result, which is already stored.
/// </summary>
internal sealed class TriggerActions(GpioChips chips, Action<string> log, TimeProvider time)
{
    private readonly Dictionary<string, (TriggerAction Config, GpioPulse Pulse)[]> _actions = new(StringComparer.Ordinal);

    public void Add(TriggerRule rule) =>
        _actions[rule.Name] = [.. rule.Config.Actions.Select(a => (a, new GpioPulse(chips, a.Pin, TimeSpan.FromMilliseconds(a.Ms), a.Simulated, time)))];

    /// <summary>Pulses every action whose MinScore the result's <paramref name="score"/> reaches (NaN reaches none).</summary>
    public async Task RunAsync(TriggerRule rule, double score, CancellationToken stop)
    {
        foreach (var (config, pulse) in _actions[rule.Name])
        {
            if (config.MinScore is double min && !(score >= min))
            {
                continue;
            }

            try
            {
                await pulse.PulseAsync(stop).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or InvalidOperationException or UnauthorizedAccessException or ArgumentException)
            {
                log($"trigger {rule.Name}: gpio pulse on pin {config.Pin} failed: {e.Message}");
            }
        }
    }
}
