using System.CommandLine;
using EdgeRuntime.Client;

namespace EdgeRuntime.Cli;

/// <summary>
/// The options every edgectl command takes, before or after the command's name (<c>edgectl --json status</c> and
/// <c>edgectl status --json</c> alike), and the way a command that talks to edged gets its connection.
/// </summary>
internal sealed class GlobalOptions
{
    public Option<string?> Socket { get; } = new("--socket")
    {
        Description = "edged's UNIX socket (default: $EDGED_SOCKET, $XDG_RUNTIME_DIR/edgeruntime/edged.sock, "
            + "./run/edged.sock, or the system service's /run/edgeruntime/edged.sock)",
        HelpName = "PATH",
        Recursive = true,
    };

    public Option<bool> Json { get; } = new("--json")
    {
        Description = "print JSON for scripts instead of text for people",
        Recursive = true,
    };

    /// <summary>
    /// Makes <paramref name="command"/> check its values with <paramref name="prepare"/> (a usage error exits 2 whether
    /// or not edged is up), then connect and run the work <paramref name="prepare"/> returned.
    /// </summary>
    public void SetConnectedAction(Command command, Func<ParseResult, Func<EdgeClient, Task<int>>> prepare)
    {
        command.SetAction(async (parseResult, _) =>
        {
            var work = prepare(parseResult);
            await using var client = await EdgeClient.ConnectAsync(parseResult.GetValue(Socket)).ConfigureAwait(false);
            return await work(client).ConfigureAwait(false);
        });
    }
}
