namespace EdgeRuntime.Triggers;

// The configuration's "triggers" list. docs/configuration.md documents every field; keep them in step.
// Setters (not init) so the source-generated reader keeps defaults for absent fields.

/// <summary>
/// A rule: when <see cref="On"/> happens, run <see cref="Run"/> on a capture window (or a <see cref="Pipeline"/>, or
/// a <see cref="Caption"/> of a camera frame), store the result, act.
/// </summary>
public sealed record TriggerConfig
{
    public string Name { get; set; } = "";

    public TriggerWhen On { get; set; } = new();

    public TriggerRun Run { get; set; } = new();

    /// <summary>A pipeline to run (on its configured inputs) instead of "run": its result is stored by the pipeline.</summary>
    public string? Pipeline { get; set; }

    /// <summary>
    /// With a pipeline that reads sensors: its run starts this many milliseconds before the firing, so what the sensors'
    /// buffers hold from just before becomes its first units, and then it follows the live stream.
    /// </summary>
    public double PreMs { get; set; }

    /// <summary>Caption a camera frame with a vision-language model instead of "run" (see <see cref="TriggerCaption"/>).</summary>
    public TriggerCaption? Caption { get; set; }

    public TriggerAction[] Actions { get; set; } = [];
}

/// <summary>Exactly one of Gpio, Threshold, EverySeconds or Model.</summary>
public sealed record TriggerWhen
{
    /// <summary>A gpio sensor's name: fire on each of its (debounced) edges.</summary>
    public string? Gpio { get; set; }

    public ThresholdWhen? Threshold { get; set; }

    /// <summary>Fire on a schedule, every this many seconds.</summary>
    public double? EverySeconds { get; set; }

    public ModelWhen? Model { get; set; }

    /// <summary>After firing, ignore further firings for this long (they are counted as heldOff).</summary>
    public double HoldOffMs { get; set; }
}

/// <summary>Fire when a channel crosses Above (rising) or Below (falling); re-arm only once it is back past the hysteresis band.</summary>
public sealed record ThresholdWhen
{
    public string Sensor { get; set; } = "";

    public string Channel { get; set; } = "";

    public double? Above { get; set; }

    public double? Below { get; set; }

    public double Hysteresis { get; set; }
}

/// <summary>
/// Run a model continuously over a stream (Silero VAD on audio, a wake-word classifier) and fire when an output's
/// largest element reaches Above; re-arm when it falls below Above − Hysteresis.
/// </summary>
public sealed record ModelWhen
{
    public string Sensor { get; set; } = "";

    public ModelRunSpec Run { get; set; } = new();

    public string Output { get; set; } = "";

    public double Above { get; set; } = 0.5;

    public double Hysteresis { get; set; } = 0.15;
}

/// <summary>How a model consumes samples. See <see cref="WindowModelRunner"/>.</summary>
public record ModelRunSpec
{
    public string Model { get; set; } = "";

    /// <summary>The input that receives the samples; null: the model's first input not named in Carry or Constants.</summary>
    public string? Input { get; set; }

    /// <summary>Feed the samples this many at a time, one run each (streaming models); null: all in one run.</summary>
    public int? FrameSamples { get; set; }

    /// <summary>Output → input fed back into the next frame's run (recurrent state); starts as zeros.</summary>
    public Dictionary<string, string> Carry { get; set; } = [];

    /// <summary>Inputs given a fixed value (e.g. Silero's "sr": 16000), in the input's own element type.</summary>
    public Dictionary<string, double> Constants { get; set; } = [];
}

public sealed record TriggerRun : ModelRunSpec
{
    public CaptureWindowConfig Window { get; set; } = new();
}

/// <summary>The samples a run sees: from PreMs before the trigger to PostMs after it, from the sensor's buffer.</summary>
public sealed record CaptureWindowConfig
{
    public string Sensor { get; set; } = "";

    public double PreMs { get; set; }

    public double PostMs { get; set; }
}

/// <summary>
/// Caption a camera frame with a language model that has a vision encoder and store the text: the newest frame in the
/// camera's buffer once one taken at or after the firing is there (so never a picture from before the event). The
/// frame goes to the model at the camera's own size, in grey.
/// </summary>
public sealed record TriggerCaption
{
    /// <summary>A loaded language model's name (one with a vision encoder).</summary>
    public string Model { get; set; } = "";

    /// <summary>A camera sensor (v4l2 or images) with a buffer ("bufferMs").</summary>
    public string Sensor { get; set; } = "";

    /// <summary>The most tokens the caption may take.</summary>
    public int MaxTokens { get; set; } = 16;
}

/// <summary>What to do once a result is stored. Type "gpio-pulse": drive Pin high for Ms, if MinScore is reached.</summary>
public sealed record TriggerAction
{
    public string Type { get; set; } = "gpio-pulse";

    public int Pin { get; set; } = -1;

    public double Ms { get; set; } = 100;

    public bool Simulated { get; set; }

    /// <summary>Act only when the result's largest output element is at least this (null: always).</summary>
    public double? MinScore { get; set; }
}
