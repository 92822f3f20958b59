using System.Diagnostics;
using EdgeRuntime.Generation.Tests.BitNet;

namespace EdgeRuntime.Generation.Tests;

/// <summary>
/// The PyTorch references' own unit tests (tools/bitnet, tools/lfm2: hand-computed blocks, cache against
/// recomputation, the checkpoint readers), run with the C# suite so that a change to a reference that breaks it fails
/// here, not only when someone remembers to run them.
/// </summary>
public sealed class ReferenceScriptTests
{
    [TorchReferenceTheory]
    [InlineData("bitnet")]
    [InlineData("lfm2")]
    public void The_reference_scripts_own_tests_pass(string family)
    {
        Assert.True(TorchReference.Available, $"CI=true, but {TorchReference.Python} cannot import torch");
        string folder = Path.Combine(Repository.Root, "tools", family);
        var start = new ProcessStartInfo(TorchReference.Python) { WorkingDirectory = folder, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in new[] { "-m", "unittest", "test_reference" })
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["OMP_NUM_THREADS"] = "1";
        start.Environment["OMP_WAIT_POLICY"] = "PASSIVE";
        start.Environment["PYTHONDONTWRITEBYTECODE"] = "1";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        string stderr = process.StandardError.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(3)), $"tools/{family}'s tests did not finish in 3 minutes");
        Assert.True(process.ExitCode == 0, $"tools/{family}/test_reference.py failed:\n{stdout.Result}\n{stderr}");
        Assert.Contains("OK", stderr, StringComparison.Ordinal);
    }
}
