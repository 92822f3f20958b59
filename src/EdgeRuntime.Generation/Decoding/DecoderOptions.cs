namespace EdgeRuntime.Generation.Decoding;

/// <summary>How a decoder is loaded: its cache shape and threads.</summary>
public sealed record DecoderOptions
{
    /// <summary>Positions each session's cache holds; 0 takes the model's context length. Never more than that.</summary>
    public int ContextLimit { get; init; }

    /// <summary>Sessions the cache holds at once (active or kept between turns).</summary>
    public int Slots { get; init; } = 4;

    /// <summary>Threads ONNX Runtime splits one step over.</summary>
    public int IntraOpThreads { get; init; } = Math.Max(1, Environment.ProcessorCount);

    /// <summary>Hash the weights file at load against config.json (a corrupt copy is refused).</summary>
    public bool VerifyWeights { get; init; } = true;
}
