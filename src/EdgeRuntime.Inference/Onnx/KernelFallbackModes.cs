namespace EdgeRuntime.Inference.Onnx;

/// <summary>The configuration and protocol spelling of <see cref="KernelFallbackMode"/>: auto, force, off.</summary>
public static class KernelFallbackModes
{
    public static bool TryParse(string? text, out KernelFallbackMode mode)
    {
        mode = text switch
        {
            "auto" => KernelFallbackMode.Auto,
            "force" => KernelFallbackMode.Force,
            "off" => KernelFallbackMode.Off,
            _ => (KernelFallbackMode)(-1),
        };
        return (int)mode >= 0;
    }
}
