namespace EdgeRuntime.Inference.Providers;

public enum ProviderKind
{
    Cpu,
    Qnn,
    Cuda,
    TensorRT,
}

/// <summary>The provider names used in board profiles and requests, and the names ONNX Runtime reports for them.</summary>
public static class ProviderNames
{
    public const string Cpu = "cpu";
    public const string Qnn = "qnn";
    public const string Cuda = "cuda";
    public const string TensorRT = "tensorrt";

    public static readonly string[] All = [Qnn, TensorRT, Cuda, Cpu];

    public static bool TryParse(string? name, out ProviderKind kind)
    {
        switch (name)
        {
            case Cpu: kind = ProviderKind.Cpu; return true;
            case Qnn: kind = ProviderKind.Qnn; return true;
            case Cuda: kind = ProviderKind.Cuda; return true;
            case TensorRT: kind = ProviderKind.TensorRT; return true;
            default: kind = default; return false;
        }
    }

    public static ProviderKind Parse(string name) =>
        TryParse(name, out var kind) ? kind : throw new ArgumentException($"Unknown execution provider '{name}' (known: {string.Join(", ", All)}).", nameof(name));

    /// <summary>The name ONNX Runtime gives the provider in its available-provider list and profiling output.</summary>
    public static string OrtName(ProviderKind kind) => kind switch
    {
        ProviderKind.Qnn => "QNNExecutionProvider",
        ProviderKind.Cuda => "CUDAExecutionProvider",
        ProviderKind.TensorRT => "TensorrtExecutionProvider",
        _ => "CPUExecutionProvider",
    };

    public static string Name(ProviderKind kind) => kind switch
    {
        ProviderKind.Qnn => Qnn,
        ProviderKind.Cuda => Cuda,
        ProviderKind.TensorRT => TensorRT,
        _ => Cpu,
    };
}
