using System.CommandLine;
using System.Globalization;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Cli;

/// <summary>
/// The options generate and chat share: how many tokens, how to sample, where to stop. Each value is checked while
/// parsing against the range the daemon accepts, so a typo exits 2 before anything connects (edged checks again and
/// answers invalid_sampling). <see cref="Apply"/> puts them into a request.
/// </summary>
internal sealed class GenerationOptions
{
    public Option<int?> MaxTokens { get; } = new("--max-tokens")
    {
        Description = "generate at most N tokens (default: the daemon's, bounded by the model's context)",
        HelpName = "N",
        CustomParser = ValueParsers.Single<int?>(
            (string text, out int? n) => (n = ValueParsers.PositiveInt(text, out int v) ? v : null) is not null,
            text => $"--max-tokens takes a positive whole number, not '{text}'."),
    };

    public Option<float?> Temperature { get; } = Number(
        "--temperature", "T", "sampling temperature >= 0; 0 (the default) is greedy: always the likeliest token",
        t => t >= 0, "a number >= 0 (0 is greedy)");

    public Option<int?> TopK { get; } = new("--top-k")
    {
        Description = "sample among the K likeliest tokens only; 0 (the default) is off",
        HelpName = "K",
        CustomParser = ValueParsers.Single<int?>(
            (string text, out int? k) => (k = ValueParsers.WholeNumber(text, out int v) ? v : null) is not null,
            text => $"--top-k takes a whole number >= 0 (0 is off), not '{text}'."),
    };

    public Option<float?> TopP { get; } = Number(
        "--top-p", "P", "sample among the likeliest tokens whose probabilities add up to P, in (0, 1]; 1 (the default) is off",
        p => p > 0 && p <= 1, "a number in (0, 1]");

    public Option<float?> MinP { get; } = Number(
        "--min-p", "P", "drop tokens less likely than P times the likeliest one, in [0, 1); 0 (the default) is off",
        p => p >= 0 && p < 1, "a number in [0, 1)");

    public Option<float?> RepetitionPenalty { get; } = Number(
        "--repetition-penalty", "R", "make tokens already in the context less likely, > 0; 1 (the default) is off, 1.1 is mild",
        r => r > 0, "a number > 0 (1 is off)");

    public Option<ulong?> Seed { get; } = new("--seed")
    {
        Description = "the sampler's random seed, so a sampled answer can be repeated (default: the daemon's)",
        HelpName = "N",
        CustomParser = ValueParsers.Single<ulong?>(
            (string text, out ulong? seed) => (seed = ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out ulong v) ? v : null) is not null,
            text => $"--seed takes a whole number from 0 to {ulong.MaxValue}, not '{text}'."),
    };

    public Option<string[]> Stop { get; } = new("--stop")
    {
        Description = "stop when the answer produces TEXT (not printed); repeat for more",
        HelpName = "TEXT",
        Arity = ArgumentArity.OneOrMore,
        CustomParser = ValueParsers.Each<string>(
            (string text, out string value) => (value = text).Length > 0,
            _ => "--stop takes a non-empty text."),
    };

    public IEnumerable<Option> All => [MaxTokens, Temperature, TopK, TopP, MinP, RepetitionPenalty, Seed, Stop];

    /// <summary><paramref name="request"/> with the options given on the command line; those not given are left to the daemon.</summary>
    public GenerateRequest Apply(GenerateRequest request, ParseResult parseResult)
    {
        var sampling = new SamplingSpec
        {
            Temperature = parseResult.GetValue(Temperature),
            TopK = parseResult.GetValue(TopK),
            TopP = parseResult.GetValue(TopP),
            MinP = parseResult.GetValue(MinP),
            RepetitionPenalty = parseResult.GetValue(RepetitionPenalty),
            Seed = parseResult.GetValue(Seed),
        };
        return request with
        {
            MaxTokens = parseResult.GetValue(MaxTokens),
            Sampling = sampling == new SamplingSpec() ? null : sampling,
            Stop = parseResult.GetValue(Stop) is { Length: > 0 } stops ? stops : null,
        };
    }

    private static Option<float?> Number(string name, string helpName, string description, Func<float, bool> inRange, string takes) => new(name)
    {
        Description = description,
        HelpName = helpName,
        CustomParser = ValueParsers.Single<float?>(
            (string text, out float? value) =>
                (value = float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out float v) && float.IsFinite(v) && inRange(v) ? v : null) is not null,
            text => $"{name} takes {takes}, not '{text}'."),
    };
}
