namespace EdgeRuntime.Inference.Providers;

/// <summary>The providers a model should run on, in order of preference, and what to do when one is missing.</summary>
public sealed record ProviderChoice(IReadOnlyList<ProviderSpec> Providers, MissingProviderAction OnMissing)
{
    public static readonly ProviderChoice CpuOnly = new([new ProviderSpec()], MissingProviderAction.Fallback);

    /// <summary>Which nodes are moved onto our ai.edgeruntime kernels at load (see <see cref="Onnx.KernelFallbackRewriter"/>).</summary>
    public Onnx.KernelFallbackMode KernelFallback { get; init; } = Onnx.KernelFallbackMode.Auto;

    public string Describe() => string.Join(" > ", Providers.Select(p => p.Name).Append(ProviderNames.Cpu).Distinct(StringComparer.Ordinal));
}
