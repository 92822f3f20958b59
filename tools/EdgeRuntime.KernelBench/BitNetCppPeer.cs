using System.Text.Json;
using EdgeRuntime.Tools;

namespace EdgeRuntime.KernelBench;

/// <summary>
/// bitnet.cpp's I2_S kernel as a peer process: <c>tools/peers/bitnet-i2s/i2s_peer.cpp</c>, built by build/Bench.psm1
/// against a BitNet checkout (<c>build.ps1 bench-kernels -PeerSource DIR</c>). Each run streams the same number of
/// layers of the same shape on the same threads as our contender and reports its median time per layer; it checks its
/// own sums against an exact reference first, so a miscompiled peer fails instead of looking fast.
/// </summary>
internal sealed class BitNetCppPeer(string executable)
{
    public string Executable { get; } = executable;

    /// <summary>One process run: the peer's median milliseconds per layer over <paramref name="rounds"/> passes.</summary>
    public PeerRun Run(int k, int n, int m, int threads, int layers, int rounds)
    {
        string stdout = PeerProcess.Run(Executable, ["--k", $"{k}", "--n", $"{n}", "--m", $"{m}", "--threads", $"{threads}", "--layers", $"{layers}", "--rounds", $"{rounds}"]);
        var run = JsonSerializer.Deserialize(stdout, BenchJson.Default.PeerRun)
            ?? throw new InvalidOperationException($"bitnet.cpp peer printed no result: '{stdout.Trim()}'");
        if (!run.Checked || run.K != k || run.N != n || run.M != m || run.Threads != threads || !(run.MsPerLayer > 0))
        {
            throw new InvalidOperationException($"bitnet.cpp peer's result does not answer the run asked for: '{stdout.Trim()}'");
        }

        return run;
    }
}

/// <summary>What <c>i2s_peer</c> prints.</summary>
internal sealed record PeerRun(string Kernel, int K, int N, int M, int Threads, int Layers, double MsPerLayer, bool Checked);
