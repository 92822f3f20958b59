namespace EdgeRuntime.Boards.Tests;

internal static class Repository
{
    public static string Root { get; } = FindRoot();

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
