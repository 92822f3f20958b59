using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace EdgeRuntime.Generation.Tests.BitNet;

/// <summary>
/// tools/bitnet/reference.py, the PyTorch BitNet b1.58 written from the paper and model card, run on Debian's
/// /usr/bin/python3 (python3-torch). It reads the Hugging Face checkpoint itself, so it shares no code with our
/// importer or engine.
/// </summary>
internal static class TorchReference
{
    public const string Python = "/usr/bin/python3";

    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);

    private static readonly Lazy<bool> HasTorch = new(FindTorch);

    public static string Script => Path.Combine(Repository.Root, "tools", "bitnet", "reference.py");

    /// <summary>Whether /usr/bin/python3 can import torch (looked up, not imported: that takes seconds).</summary>
    public static bool Available => HasTorch.Value;

    /// <summary>.ci/run sets CI=true (as CI services do); there a missing torch is a broken machine, never a skip.</summary>
    public static bool Required => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Greedy decoding of <paramref name="steps"/> tokens after <paramref name="prompt"/>, never stopping at an end
    /// token: the ids and, per step, the float64 logits the id was chosen from and the nearest rounding tie.
    /// </summary>
    public static Steps Decode(string checkpoint, IReadOnlyList<int> prompt, int steps, string embedding, string scratch) =>
        Decode(Script, checkpoint, prompt, steps, embedding, scratch);

    /// <summary>The same with another reference script of the same interface (tools/lfm2/reference.py).</summary>
    public static Steps Decode(string script, string checkpoint, IReadOnlyList<int> prompt, int steps, string embedding, string scratch)
    {
        string output = Path.Combine(scratch, "reference-steps.json");
        var start = new ProcessStartInfo(Python)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in new[]
        {
            script, "--checkpoint", checkpoint, "--tokens", string.Join(',', prompt.Select(t => t.ToString(CultureInfo.InvariantCulture))),
            "--greedy", steps.ToString(CultureInfo.InvariantCulture), "--no-stop", "--embedding", embedding, "--out-steps", output, "--threads", "1",
        })
        {
            start.ArgumentList.Add(argument);
        }

        // One thread, and OpenMP workers that sleep instead of spinning: the machine's cores are shared.
        start.Environment["OMP_NUM_THREADS"] = "1";
        start.Environment["OMP_WAIT_POLICY"] = "PASSIVE";
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{Python} did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(Timeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{script} did not finish in {Timeout.TotalSeconds} s");
        }

        Assert.True(process.ExitCode == 0, $"{script} exited with {process.ExitCode}:\n{stdout.Result}\n{stderr.Result}");
        using var json = JsonDocument.Parse(File.ReadAllBytes(output));
        var root = json.RootElement;
        return new Steps(
            [.. root.GetProperty("generated").EnumerateArray().Select(e => e.GetInt32())],
            [.. root.GetProperty("logits").EnumerateArray().Select(row => row.EnumerateArray().Select(e => e.GetDouble()).ToArray())],
            root.GetProperty("embedding").GetString()!,
            root.TryGetProperty("ties", out var ties) ? [.. ties.EnumerateArray().Select(e => e.GetDouble())] : []);
    }

    private static bool FindTorch()
    {
        if (!File.Exists(Python))
        {
            return false;
        }

        var start = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("import importlib.util, sys; sys.exit(0 if importlib.util.find_spec('torch') else 1)");
        using var process = Process.Start(start);
        if (process is null)
        {
            return false;
        }

        process.StandardOutput.ReadToEnd();
        process.StandardError.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0;
    }

    /// <summary>
    /// The reference's greedy ids; per step the logits (float64) the id was the argmax of, and how close the forward pass
    /// that computed them came to a rounding tie (|x·s − (k + ½)| of the nearest activation; step 0 covers the prompt;
    /// empty for a model that rounds no activations).
    /// </summary>
    public sealed record Steps(int[] Generated, double[][] Logits, string Embedding, double[] Ties);
}

/// <summary>
/// A test against <see cref="TorchReference"/>. Skipped when /usr/bin/python3 has no torch, so a developer without
/// python3-torch still runs the rest; under CI (CI=true, which .ci/run's machine sets) it always runs, and the test
/// fails on a missing torch instead of hiding (.ci/run installs python3-torch: build/debian-packages.txt, concern
/// 'reference').
/// </summary>
public sealed class TorchReferenceFactAttribute : FactAttribute
{
    public TorchReferenceFactAttribute()
    {
        if (!TorchReference.Required && !TorchReference.Available)
        {
            Skip = $"{TorchReference.Python} cannot import torch: install Debian's python3-torch (and libopenblas0-openmp) to compare with tools/bitnet/reference.py; 'build.ps1 unit' and CI install them";
        }
    }
}

/// <summary>A theory against a PyTorch reference, skipped and required as <see cref="TorchReferenceFactAttribute"/> is.</summary>
public sealed class TorchReferenceTheoryAttribute : TheoryAttribute
{
    public TorchReferenceTheoryAttribute()
    {
        if (!TorchReference.Required && !TorchReference.Available)
        {
            Skip = $"{TorchReference.Python} cannot import torch: install Debian's python3-torch (and libopenblas0-openmp) to compare with the PyTorch references in tools/; 'build.ps1 unit' and CI install them";
        }
    }
}
