namespace EdgeRuntime.Cli;

/// <summary>Paths edgectl sends to the daemon, which resolves relative ones against its own folders.</summary>
internal static class LocalPaths
{
    /// <summary>
    /// A relative path that exists from here (a file or a frame folder) is sent absolute, so "edgectl load m ./m.onnx"
    /// means what it says; any other path is the daemon's to resolve.
    /// </summary>
    public static string AbsoluteIfHere(string path) => !Path.IsPathRooted(path) && Path.Exists(path) ? Path.GetFullPath(path) : path;
}
