using EdgeRuntime.Protocol;

namespace EdgeRuntime.Server;

/// <summary>What the socket needs from the daemon's pipelines: list, load and run. Null when the daemon runs none.</summary>
public interface IPipelineServices
{
    PipelineStatus[] Pipelines();

    /// <summary>Loads a pipeline and its models. Throws EdgeRuntimeException (bad_request) for a bad definition.</summary>
    Task<PipelineStatus> LoadAsync(PipelineDefinition definition, CancellationToken cancellationToken);

    /// <summary>Runs once and stores the result. Throws EdgeRuntimeException (unknown_pipeline, bad_request, ...).</summary>
    Task<PipelineRunResponse> RunAsync(PipelineRunRequest request, CancellationToken cancellationToken);
}
