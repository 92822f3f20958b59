using System.Security.Cryptography;
using EdgeRuntime.Inference.Onnx;
using EdgeRuntime.Onnx;

namespace EdgeRuntime.Inference.Providers;

/// <summary>QNN's provider options and the checks made before a model is offered to the Hexagon NPU (HTP).</summary>
public static class QnnOptions
{
    public const string DefaultBackend = "libQnnHtp.so";

    public static readonly string[] PerformanceModes =
    [
        "default", "burst", "balanced", "high_performance", "high_power_saver", "low_balanced",
        "low_power_saver", "power_saver", "extreme_power_saver", "sustained_high_performance",
    ];

    // The ops a QDQ (quantize/dequantize) or integer-only model carries; HTP runs integer arithmetic, so a float
    // model without them is either rejected by QNN or falls apart into many CPU partitions.
    private static readonly HashSet<string> QuantizedOps = new(StringComparer.Ordinal)
    {
        "QuantizeLinear", "DequantizeLinear", "QLinearConv", "QLinearMatMul", "ConvInteger", "MatMulInteger",
        "DynamicQuantizeLinear", "QLinearAdd", "QLinearMul",
    };

    public static bool IsHtp(ProviderSpec spec) =>
        (spec.BackendPath ?? DefaultBackend).Contains("Htp", StringComparison.OrdinalIgnoreCase);

    /// <summary>The options ONNX Runtime's QNN provider takes, from the profile entry.</summary>
    public static Dictionary<string, string> ProviderOptions(ProviderSpec spec)
    {
        var options = new Dictionary<string, string>(spec.Options, StringComparer.Ordinal)
        {
            ["backend_path"] = spec.BackendPath ?? DefaultBackend,
        };
        if (spec.HtpPerformanceMode is not null)
        {
            options["htp_performance_mode"] = spec.HtpPerformanceMode;
        }

        return options;
    }

    /// <summary>
    /// Why a model is a poor fit for the HTP backend, or null when it fits: HTP compiles a graph for fixed shapes
    /// and integer arithmetic, so dynamic input dims and float-only graphs are refused up front with the reason.
    /// </summary>
    public static string? HtpUnsuitability(OnnxModelSummary model)
    {
        var reasons = new List<string>();
        var dynamic = model.Inputs.Where(i => !i.IsStatic).ToArray();
        if (dynamic.Length > 0)
        {
            reasons.Add("dynamic input shapes (" + string.Join(", ", dynamic.Select(i => $"{i.Name}[{string.Join(",", i.Shape)}]")) + "); fix them, e.g. with onnxruntime.tools.make_dynamic_shape_fixed");
        }

        if (!model.Nodes.Any(n => QuantizedOps.Contains(n.OpType)))
        {
            reasons.Add("no QuantizeLinear/DequantizeLinear or integer ops: the model is not quantized (QDQ); quantize it to INT8/INT16 for HTP");
        }

        return reasons.Count == 0 ? null : string.Join("; ", reasons);
    }

    /// <summary>
    /// The EP-context file for a model: named after the model and a hash of its bytes and of the runtime that
    /// compiled it, so neither an edited model nor an upgraded ONNX Runtime/QNN build reuses a stale context.
    /// </summary>
    public static string ContextCachePath(string cacheDirectory, string modelPath, string runtimeVersion)
    {
        using var hasher = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hasher.AppendData(System.Text.Encoding.UTF8.GetBytes(runtimeVersion + "\n"));
        using (var stream = File.OpenRead(modelPath))
        {
            var buffer = new byte[81920];
            int read;
            while ((read = stream.Read(buffer)) > 0)
            {
                hasher.AppendData(buffer, 0, read);
            }
        }

        string hash = Convert.ToHexStringLower(hasher.GetHashAndReset())[..16];
        return Path.Combine(cacheDirectory, $"{Path.GetFileNameWithoutExtension(modelPath)}.{hash}.qnn_ctx.onnx");
    }
}
