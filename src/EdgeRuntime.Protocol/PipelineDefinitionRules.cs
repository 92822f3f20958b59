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
    }
}
