namespace EdgeRuntime.Protocol;

/// <summary>
/// What makes a pipeline definition valid, in one place: the configuration loader reports a break with its field path
/// (<c>pipelines[2].clock</c>), and a definition loaded over the socket is refused with the same words.
/// </summary>
public static class PipelineDefinitionRules
{
    /// <summary>Each rule the definition breaks: the field and what it must be.</summary>
    public static IEnumerable<(string Field, string Rule)> Broken(PipelineDefinition definition)
    {
        if (string.IsNullOrWhiteSpace(definition.Name) || definition.Name.IndexOfAny(['/', ':']) >= 0)
        {
            yield return ("name", "must be a name without '/' or ':'");
        }

        if (definition.Kind is not ("mmedge" or "cbnet"))
        {
            yield return ("kind", "must be 'mmedge' or 'cbnet'");
        }

        if (string.IsNullOrWhiteSpace(definition.Manifest))
        {
            yield return ("manifest", "must name the manifest the training script wrote (relative to modelDirectory)");
        }

        if (definition.Clock is not ("realtime" or "fast"))
        {
            yield return ("clock", "must be 'realtime' or 'fast'");
        }

        if (definition.BudgetMs is not (null or > 0))
        {
            yield return ("budgetMs", "must be positive");
        }

        if (!(definition.DriftTolerance > 0))
        {
            yield return ("driftTolerance", "must be positive");
        }

        if (definition.HopMs is double hop && !(hop >= 10 && hop <= 3_600_000))
        {
            yield return ("hopMs", "must be between 10 ms and an hour");
        }
        else if (definition.HopMs is not null && !definition.Inputs.Values.Any(i => i.IsLive))
        {
            yield return ("hopMs", "needs an input that names a sensor (a continuous run reads live input)");
        }

        if (definition.HopMs is not null && definition.Kind == "mmedge" && definition.Clock == "fast")
        {
            yield return ("clock", "must be 'realtime' for a continuous run (live input arrives at its own pace)");
        }
    }
}
