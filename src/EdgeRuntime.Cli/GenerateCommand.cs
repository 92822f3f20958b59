using EdgeRuntime.Client;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Cli;

/// <summary>edgectl generate: one prompt, its answer streamed to stdout and its summary to stderr.</summary>
internal static class GenerateCommand
{
    /// <summary>The exit code of a generation stopped with Ctrl+C, as a shell reports a program ended by SIGINT.</summary>
    public const int Interrupted = 130;

    public static async Task<int> RunAsync(EdgeClient client, GenerateRequest request, Terminal terminal, bool json)
    {
        var (_, summary) = await StreamedGeneration.RunAsync(client, request, terminal, json).ConfigureAwait(false);
        return summary.StopReason == StopReasons.Cancelled ? Interrupted : 0;
    }
}
