using EdgeRuntime.Protocol;

namespace EdgeRuntime.Generation.Sampling;

/// <summary>Checked sampling options. Temperature 0 is greedy; TopK 0, TopP 1, MinP 0 and RepetitionPenalty 1 are off.</summary>
public sealed record SamplingSettings(float Temperature, int TopK, float TopP, float MinP, float RepetitionPenalty, ulong Seed)
{
    public static SamplingSettings Greedy { get; } = new(0, 0, 1, 0, 1, 0);

    public bool IsGreedy => Temperature == 0;

    /// <summary>Validates a request's options; each bad value is an <see cref="ErrorCodes.InvalidSampling"/> error naming it.</summary>
    public static SamplingSettings From(SamplingSpec? spec, ulong defaultSeed)
    {
        if (spec is null)
        {
            return Greedy with { Seed = defaultSeed };
        }

        float temperature = spec.Temperature ?? 0;
        if (!float.IsFinite(temperature) || temperature < 0)
        {
            throw Invalid($"temperature is {spec.Temperature}; it must be a finite number ≥ 0 (0 is greedy).");
        }

        int topK = spec.TopK ?? 0;
        if (topK < 0)
        {
            throw Invalid($"topK is {topK}; it must be ≥ 0 (0 keeps every token).");
        }

        float topP = spec.TopP ?? 1;
        if (!(topP > 0 && topP <= 1))
        {
            throw Invalid($"topP is {spec.TopP}; it must be in (0, 1] (1 keeps every token).");
        }

        float minP = spec.MinP ?? 0;
        if (!(minP >= 0 && minP < 1))
        {
            throw Invalid($"minP is {spec.MinP}; it must be in [0, 1) (0 keeps every token).");
        }

        float penalty = spec.RepetitionPenalty ?? 1;
        if (!(penalty > 0) || !float.IsFinite(penalty))
        {
            throw Invalid($"repetitionPenalty is {spec.RepetitionPenalty}; it must be a finite number > 0 (1 is off).");
        }

        return new SamplingSettings(temperature, topK, topP, minP, penalty, spec.Seed ?? defaultSeed);

        static EdgeRuntimeException Invalid(string message) => new(ErrorCodes.InvalidSampling, message);
    }
}
