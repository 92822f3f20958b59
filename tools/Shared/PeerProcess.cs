using System.Diagnostics;

namespace EdgeRuntime.Tools;

/// <summary>
/// Runs a peer's benchmark program (bitnet.cpp's llama-bench, our harness around its I2_S kernel) to the end and returns
/// what it printed; a non-zero exit throws with the program's own error output.
/// </summary>
internal static class PeerProcess
{
    /// <param name="libraryPath">Where the peer's shared libraries sit (LD_LIBRARY_PATH), if it has any.</param>
    public static string Run(string program, IEnumerable<string> arguments, string? libraryPath = null)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        if (libraryPath is not null)
        {
            start.Environment["LD_LIBRARY_PATH"] = libraryPath;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Cannot start {program}.");
        var error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', start.ArgumentList)} exited {process.ExitCode}: {error.Result.Trim()}");
        }

        return output;
    }
}
