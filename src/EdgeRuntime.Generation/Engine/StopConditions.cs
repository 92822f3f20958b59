namespace EdgeRuntime.Generation.Engine;

/// <summary>What ends a run besides maxTokens and the context: end-of-sequence ids, extra stop ids, stop strings.</summary>
internal sealed class StopConditions(IReadOnlySet<int> endOfSequence, IReadOnlySet<int> stopTokens, IReadOnlyList<string> stopStrings)
{
    public IReadOnlySet<int> EndOfSequence { get; } = endOfSequence;

    public IReadOnlySet<int> StopTokens { get; } = stopTokens;

    public StopStringFilter Strings { get; } = new(stopStrings);
}
