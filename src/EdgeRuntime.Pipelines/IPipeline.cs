using EdgeRuntime.Protocol;

namespace EdgeRuntime.Pipelines;

/// <summary>A loaded pipeline: it runs once per request over replayed or live input and reports on itself.</summary>
public interface IPipeline
{
    PipelineDefinition Definition { get; }

    /// <summary>The registry names of the models it loaded ("PIPELINE:role"; they show in `edgectl models` and `stats`).</summary>
    IReadOnlyList<string> ModelNames { get; }

    PipelineStatus Status();

    /// <summary>
    /// Runs once. Relative input paths resolve against <paramref name="inputDirectory"/>. A live run starts at <paramref name="firedAt"/> (a trigger's firing, on the sensors' clock) less the
    /// request's pre-window, or now when it is null; a replayed one ignores it.
    /// </summary>
    Task<PipelineResult> RunAsync(PipelineRunRequest request, string inputDirectory, long? firedAt, CancellationToken cancellationToken);
}
