using System.Globalization;
using EdgeRuntime.Sensors;

namespace EdgeRuntime.Triggers;

/// <summary>Checks a trigger against the configured sensors at start, so a typo fails the daemon's start with a clear message instead of a trigger that never fires.</summary>
internal static class TriggerValidation
{
    /// <summary>Returns the human description of the trigger's condition (shown by edgectl status).</summary>
    public static string Validate(TriggerConfig config, SensorHost sensors)
    {
        string name = string.IsNullOrWhiteSpace(config.Name) ? throw new ArgumentException("A trigger has no \"name\".") : config.Name;
        var on = config.On;
        int kinds = (on.Gpio is null ? 0 : 1) + (on.Threshold is null ? 0 : 1) + (on.EverySeconds is null ? 0 : 1) + (on.Model is null ? 0 : 1);
        if (kinds != 1)
        {
            throw new ArgumentException($"Trigger '{name}': \"on\" must have exactly one of gpio, threshold, everySeconds or model.");
        }

        if (config.PreMs != 0 && (config.Pipeline is null || !(config.PreMs > 0 && double.IsFinite(config.PreMs))))
        {
            throw new ArgumentException($"Trigger '{name}': \"preMs\" is the window before the firing a pipeline's live run starts at; it needs \"pipeline\" and must be positive.");
        }

        if (config.Pipeline is not null)
        {
            if (!string.IsNullOrEmpty(config.Run.Model) || config.Caption is not null || config.Actions.Length > 0)
            {
                throw new ArgumentException($"Trigger '{name}': a trigger that runs pipeline '{config.Pipeline}' has no \"run\", no \"caption\" and no \"actions\".");
            }
        }
        else if (config.Caption is { } caption)
        {
            ValidateCaption(name, config, caption, sensors);
        }
        else
        {
            ValidateRun(name, config, sensors);
        }

        return DescribeCondition(name, on, sensors);
    }

    private static void ValidateRun(string name, TriggerConfig config, SensorHost sensors)
    {
        if (string.IsNullOrEmpty(config.Run.Model))
        {
            throw new ArgumentException($"Trigger '{name}': \"run\" needs \"model\" (or give \"pipeline\" or \"caption\" instead).");
        }

        var window = config.Run.Window;
        var windowSensor = sensors.Find(window.Sensor) ?? throw new ArgumentException($"Trigger '{name}': run.window.sensor '{window.Sensor}' is not a configured sensor.");
        var ring = sensors.Ring(window.Sensor) ?? throw new ArgumentException($"Trigger '{name}': sensor '{window.Sensor}' keeps no buffer; give it \"bufferMs\" of at least preMs + postMs ({window.PreMs + window.PostMs}).");
        double bufferedMs = ring.Capacity * 1000 / windowSensor.SampleRate;
        // A fifth of the buffer is headroom: by the time the window is copied the ring has moved on by a chunk or so,
        // and a window filling the whole buffer would have lost its start.
        if (window.PreMs < 0 || window.PostMs < 0 || window.PreMs + window.PostMs > (0.8 * bufferedMs) + 1e-6 || window.PreMs + window.PostMs <= 0)
        {
            throw new ArgumentException($"Trigger '{name}': the window ({window.PreMs} ms before, {window.PostMs} ms after) must be positive and fit in 80 % of sensor '{window.Sensor}''s buffer of {bufferedMs:0} ms; raise its bufferMs to at least {(window.PreMs + window.PostMs) / 0.8:0}.");
        }

        ValidateActions(name, config);
    }

    /// <summary>The sensor must be a camera (v4l2 or images) with a buffer: the frame is read from it, like a window.</summary>
    private static void ValidateCaption(string name, TriggerConfig config, TriggerCaption caption, SensorHost sensors)
    {
        if (!string.IsNullOrEmpty(config.Run.Model))
        {
            throw new ArgumentException($"Trigger '{name}': give \"run\" or \"caption\", not both.");
        }

        if (string.IsNullOrEmpty(caption.Model))
        {
            throw new ArgumentException($"Trigger '{name}': caption.model is missing (a loaded language model with a vision encoder).");
        }

        var source = sensors.Find(caption.Sensor) ?? throw new ArgumentException($"Trigger '{name}': caption.sensor '{caption.Sensor}' is not a configured sensor.");
        if (source is not ICameraSource)
        {
            throw new ArgumentException($"Trigger '{name}': caption.sensor '{caption.Sensor}' is a {source.Type} sensor, not a camera (v4l2 or images).");
        }

        if (sensors.Ring(caption.Sensor) is null)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"Trigger '{name}': camera '{caption.Sensor}' keeps no buffer; give it \"bufferMs\" (one frame, {1000 / source.SampleRate:0.#} ms, is enough)."));
        }

        if (caption.MaxTokens < 1)
        {
            throw new ArgumentException($"Trigger '{name}': caption.maxTokens must be at least 1.");
        }

        if (config.Actions.Any(a => a.MinScore is not null))
        {
            throw new ArgumentException($"Trigger '{name}': a caption has no score, so its actions take no \"minScore\".");
        }

        ValidateActions(name, config);
    }

    private static void ValidateActions(string name, TriggerConfig config)
    {
        foreach (var action in config.Actions)
        {
            if (action.Type != "gpio-pulse" || action.Pin < 0 || action.Ms <= 0)
            {
                throw new ArgumentException($"Trigger '{name}': an action must be {{\"type\":\"gpio-pulse\",\"pin\":N,\"ms\":M}} with N >= 0 and M > 0.");
            }
        }
    }

    private static string DescribeCondition(string name, TriggerWhen on, SensorHost sensors)
    {
        if (on.Gpio is { } gpio)
        {
            return sensors.Find(gpio)?.Type == "gpio"
                ? $"gpio {gpio}" + HoldOff(on)
                : throw new ArgumentException($"Trigger '{name}': on.gpio '{gpio}' is not a configured gpio sensor.");
        }

        if (on.Threshold is { } t)
        {
            var sensor = sensors.Find(t.Sensor) ?? throw new ArgumentException($"Trigger '{name}': threshold sensor '{t.Sensor}' is not configured.");
            if (!sensor.Channels.Contains(t.Channel))
            {
                throw new ArgumentException($"Trigger '{name}': sensor '{t.Sensor}' has no channel '{t.Channel}'; its channels are {string.Join(", ", sensor.Channels.Take(8))}.");
            }

            if ((t.Above is null) == (t.Below is null) || t.Hysteresis < 0)
            {
                throw new ArgumentException($"Trigger '{name}': a threshold has exactly one of above or below, and a hysteresis >= 0.");
            }

            return string.Create(CultureInfo.InvariantCulture, $"{t.Sensor}.{t.Channel} {(t.Above is null ? "<=" : ">=")} {t.Above ?? t.Below} (hysteresis {t.Hysteresis})") + HoldOff(on);
        }

        if (on.EverySeconds is double every)
        {
            return every > 0 ? string.Create(CultureInfo.InvariantCulture, $"every {every} s") : throw new ArgumentException($"Trigger '{name}': everySeconds must be above 0.");
        }

        var m = on.Model!;
        var source = sensors.Find(m.Sensor) ?? throw new ArgumentException($"Trigger '{name}': model trigger sensor '{m.Sensor}' is not configured.");
        if (source.SampleRate <= 0 || m.Run.FrameSamples is not > 0 || string.IsNullOrEmpty(m.Run.Model) || string.IsNullOrEmpty(m.Output))
        {
            throw new ArgumentException($"Trigger '{name}': a model trigger needs a sampled sensor, run.model, run.frameSamples > 0 and output.");
        }

        return string.Create(CultureInfo.InvariantCulture, $"model {m.Run.Model} on {m.Sensor}: {m.Output} >= {m.Above}") + HoldOff(on);
    }

    private static string HoldOff(TriggerWhen on) =>
        on.HoldOffMs > 0 ? string.Create(CultureInfo.InvariantCulture, $", hold-off {on.HoldOffMs} ms") : "";
}
