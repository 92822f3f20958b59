using EdgeRuntime.Protocol;

namespace EdgeRuntime.Pipelines;

/// <summary>The replay inputs of one run: the definition's defaults, each replaced by the request's input of that name.</summary>
public static class PipelineInputs
{
    /// <summary>
    /// Merged by name, so <c>edgectl run digits --input vision=frames/</c> keeps the configured audio: a request that
    /// names one input should not have to repeat the others.
    /// </summary>
    public static Dictionary<string, string> For(PipelineDefinition definition, PipelineRunRequest request)
    {
        var inputs = new Dictionary<string, string>(definition.Inputs, StringComparer.Ordinal);
        foreach (var (name, path) in request.Inputs ?? [])
        {
            inputs[name] = path;
        }

        return inputs;
    }
}
