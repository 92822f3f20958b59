using EdgeRuntime.Boards;

namespace EdgeRuntime.Daemon;

/// <summary>Which board profile edged runs with: the configuration's, else board.json beside edged, else the built-in host.</summary>
internal static class BoardSelection
{
    public static (BoardProfile Profile, string Source) Load(DaemonConfig config)
    {
        if (config.BoardProfile is not null)
        {
            return (BoardProfileLoader.Load(config.BoardProfile), config.BoardProfile);
        }

        string besideExecutable = Path.Combine(AppContext.BaseDirectory, BoardProfileLoader.FileName);
        if (File.Exists(besideExecutable))
        {
            return (BoardProfileLoader.Load(besideExecutable), besideExecutable);
        }

        return (BoardProfileLoader.BuiltInHost(), "built in");
    }
}
