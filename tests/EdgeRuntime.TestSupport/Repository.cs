namespace EdgeRuntime.TestSupport;

/// <summary>The repository's folders, found from the test assembly's location (tests run from artifacts/bin/...).</summary>
public static class Repository
{
    public static string Root { get; } = FindRoot();

    /// <summary>The committed trained models (models/).</summary>
    public static string Models => Path.Combine(Root, "models");

    /// <summary>The committed replay samples (samples/).</summary>
    public static string Samples => Path.Combine(Root, "samples");

    /// <summary>A board's profile, boards/BOARD/board.json.</summary>
    public static string BoardProfile(string board) => Path.Combine(Root, "boards", board, "board.json");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "EdgeRuntime.sln")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException("EdgeRuntime.sln not found above the test assembly.");
    }
}
