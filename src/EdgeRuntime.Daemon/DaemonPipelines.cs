using EdgeRuntime.Pipelines;
using EdgeRuntime.Protocol;
using EdgeRuntime.Server;

namespace EdgeRuntime.Daemon;

/// <summary>The socket's view of the pipeline host: the server knows the messages, not how pipelines run.</summary>
internal sealed class DaemonPipelines(PipelineHost host) : IPipelineServices
{
    public PipelineStatus[] Pipelines() => host.Statuses();

    public Task<PipelineStatus> LoadAsync(PipelineDefinition definition, CancellationToken cancellationToken) => host.LoadAsync(definition, cancellationToken);

    public Task<PipelineRunResponse> RunAsync(PipelineRunRequest request, CancellationToken cancellationToken) => host.RunAsync(request, cancellationToken);

    /// <summary>Loads the configured pipelines before the socket opens; a bad one stops the daemon with its reason.</summary>
    public async Task LoadConfiguredAsync(IEnumerable<PipelineDefinition> definitions, CancellationToken cancellationToken)
    {
        foreach (var definition in definitions)
        {
            await host.LoadAsync(definition, cancellationToken).ConfigureAwait(false);
        }
    }
}
