namespace EdgeRuntime.Architecture.Tests;

/// <summary>
/// The allowed project references of the product (src/), as docs/architecture.md draws them. A reference not listed
/// here fails <see cref="LayeringTests"/>: add it here and to the document together, or do not add it.
/// </summary>
internal static class Layers
{
    public static IReadOnlyDictionary<string, string[]> Allowed { get; } = new Dictionary<string, string[]>(StringComparer.Ordinal)
    {
        // Foundations: no I/O beyond files and sockets.
        ["EdgeRuntime.Protocol"] = [],
        ["EdgeRuntime.Transport"] = [],
        ["EdgeRuntime.Store"] = [],
        ["EdgeRuntime.Formats"] = ["EdgeRuntime.Protocol"],
        ["EdgeRuntime.Onnx"] = ["EdgeRuntime.Protocol"],

        // Compute.
        ["EdgeRuntime.Kernels"] = ["EdgeRuntime.Onnx"],
        ["EdgeRuntime.Inference"] = ["EdgeRuntime.Protocol", "EdgeRuntime.Onnx", "EdgeRuntime.Kernels"],
        ["EdgeRuntime.Generation"] = ["EdgeRuntime.Protocol", "EdgeRuntime.Onnx", "EdgeRuntime.Kernels", "EdgeRuntime.Inference"],
        ["EdgeRuntime.Conversion"] = ["EdgeRuntime.Onnx", "EdgeRuntime.Kernels", "EdgeRuntime.Generation", "EdgeRuntime.Formats"],
        ["EdgeRuntime.Boards"] = ["EdgeRuntime.Inference"],

        // The daemon's services.
        ["EdgeRuntime.Sensors"] = ["EdgeRuntime.Formats"],
        ["EdgeRuntime.Triggers"] = ["EdgeRuntime.Sensors", "EdgeRuntime.Inference", "EdgeRuntime.Store"],
        ["EdgeRuntime.Pipelines"] = ["EdgeRuntime.Inference", "EdgeRuntime.Store", "EdgeRuntime.Formats", "EdgeRuntime.Sensors"],
        ["EdgeRuntime.Server"] = ["EdgeRuntime.Protocol", "EdgeRuntime.Inference", "EdgeRuntime.Transport", "EdgeRuntime.Store"],
        ["EdgeRuntime.Http"] = ["EdgeRuntime.Server", "EdgeRuntime.Protocol"],

        // Client side.
        ["EdgeRuntime.Client"] = ["EdgeRuntime.Protocol", "EdgeRuntime.Transport", "EdgeRuntime.Formats"],
        ["EdgeRuntime.Visuals"] = ["EdgeRuntime.Protocol"],

        // Programs: composition roots. Nothing references them.
        ["EdgeRuntime.Daemon"] = ["EdgeRuntime.Protocol", "EdgeRuntime.Inference", "EdgeRuntime.Server", "EdgeRuntime.Boards", "EdgeRuntime.Triggers", "EdgeRuntime.Pipelines", "EdgeRuntime.Generation", "EdgeRuntime.Http"],
        ["EdgeRuntime.Cli"] = ["EdgeRuntime.Client", "EdgeRuntime.Visuals"],
        ["EdgeRuntime.Convert"] = ["EdgeRuntime.Conversion"],
    };

    /// <summary>Product projects the daemon must never contain, directly or through another project.</summary>
    public static IReadOnlyList<string> NotInDaemon { get; } = ["EdgeRuntime.Client", "EdgeRuntime.Visuals", "EdgeRuntime.Conversion", "EdgeRuntime.Cli", "EdgeRuntime.Convert"];

    /// <summary>Test projects that test published binaries or the repository as a whole rather than one project.</summary>
    public static IReadOnlyList<string> CrossCuttingTests { get; } = ["EdgeRuntime.Integration.Tests", "EdgeRuntime.Architecture.Tests", "EdgeRuntime.TestSupport"];
}
