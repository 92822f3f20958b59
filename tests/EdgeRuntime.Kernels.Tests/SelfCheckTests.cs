using EdgeRuntime.Kernels.SelfCheck;

namespace EdgeRuntime.Kernels.Tests;

public sealed class SelfCheckTests
{
    [Fact]
    public void The_self_check_covers_every_kernel_on_every_supported_path_and_passes_here()
    {
        var results = KernelSelfCheck.Run();
        Assert.Equal(KernelPaths.Supported.Count * 6, results.Count);
        Assert.All(results, r => Assert.True(r.Cases > 0 && r.Failures.Count == 0, $"{r.Kernel} on {r.Path}: {string.Join("; ", r.Failures)}"));
    }
}
