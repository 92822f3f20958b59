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

    // The ONNX ops ONNX Runtime's QNN provider builds for the HTP (its op builder registry, onnxruntime 1.20 to 1.24;
    // CumSum, Einsum, GatherND, Mean, Mod, Reciprocal, ScatterElements, ScatterND and Sum from 1.22-1.24). Matched by op
    // type in the default domain. Ops outside it (ORT's contrib ops such as GroupQueryAttention, RotaryEmbedding and
    // SimplifiedLayerNormalization, which onnxruntime-qnn 2.x only begins to take, and any custom op) are left to the CPU
    // provider: the graph is cut into partitions, each crossing costs a copy off the NPU, and a static HTP context
    // cannot be cached for it.
    private static readonly HashSet<string> HtpOps = new(StringComparer.Ordinal)
    {
        "Abs", "Add", "And", "ArgMax", "ArgMin", "Asin", "Atan", "AveragePool", "BatchNormalization", "Cast", "Ceil", "Clip",
        "Concat", "Conv", "ConvTranspose", "Cos", "CumSum", "DepthToSpace", "DequantizeLinear", "Div", "Einsum", "Elu",
        "Equal", "Exp", "Expand", "Flatten", "Floor", "Gather", "GatherElements", "GatherND", "Gelu", "Gemm",
        "GlobalAveragePool", "GlobalMaxPool", "Greater", "GreaterOrEqual", "GridSample", "HardSigmoid", "HardSwish",
        "InstanceNormalization", "LRN", "LayerNormalization", "LeakyRelu", "Less", "LessOrEqual", "Log", "LogSoftmax",
        "LpNormalization", "MatMul", "Max", "MaxPool", "Mean", "Min", "Mod", "Mul", "Neg", "Not", "Or", "PRelu", "Pad", "Pow",
        "QuantizeLinear", "Reciprocal", "ReduceL2", "ReduceMax", "ReduceMean", "ReduceMin", "ReduceProd", "ReduceSum", "Relu",
        "Reshape", "Resize", "Round", "ScatterElements", "ScatterND", "Sigmoid", "Sign", "Sin", "Slice", "Softmax",
        "SpaceToDepth", "Split", "Sqrt", "Squeeze", "Sub", "Sum", "Tanh", "Tile", "TopK", "Transpose", "Unsqueeze", "Where",
    };

    // Microsoft-domain ops the provider also takes for the HTP: its 16-bit Q/DQ and Gelu.
    private static readonly HashSet<string> HtpMicrosoftOps = new(StringComparer.Ordinal) { "QuantizeLinear", "DequantizeLinear", "Gelu" };

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
    /// What in a model the HTP would not take, so that ORT would run it on the CPU provider beside the NPU: ops QNN's
    /// provider does not build for the HTP (custom ops, ORT's contrib ops) and blocked weights outside the LPBQ form.
    /// Null when the HTP takes every node. Not a reason to decline the NPU (a partitioned model still runs most of its
    /// work there, and our kernels exist to take such ops), but what stops a graph compiling whole, which a static
    /// export and the EP-context cache of one graph need.
    /// </summary>
    public static string? HtpFallbacks(OnnxModelSummary model)
    {
        var reasons = new List<string>();
        var unsupported = model.Nodes.Where(n => !RunsOnHtp(n)).Select(Describe).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        if (unsupported.Length > 0)
        {
            reasons.Add("ops QNN's provider does not build for the HTP, which would run on the CPU: " + string.Join(", ", unsupported));
        }

        var plainBlocked = PlainBlockedDequantizers(model);
        if (plainBlocked.Length > 0)
        {
            reasons.Add($"{plainBlocked.Length} blocked DequantizeLinear node(s) with float block scales (first: {plainBlocked[0]}): QNN takes blockwise int4 weights only as LPBQ, block scales that are themselves uint8 codes dequantized per channel; export the QDQ projections (edge-convert --projections qdq)");
        }

        return reasons.Count == 0 ? null : string.Join("; ", reasons);
    }

    /// <summary>Why the HTP would not compile the model as one graph (<see cref="HtpUnsuitability"/> and <see cref="HtpFallbacks"/>), or null when it would.</summary>
    public static string? HtpWholeGraphUnsuitability(OnnxModelSummary model)
    {
        string[] reasons = [.. new[] { HtpUnsuitability(model), HtpFallbacks(model) }.OfType<string>()];
        return reasons.Length == 0 ? null : string.Join("; ", reasons);
    }

    private static bool RunsOnHtp(OnnxNode node) => node.Domain switch
    {
        "" or "ai.onnx" => HtpOps.Contains(node.OpType),
        OnnxDomains.Microsoft => HtpMicrosoftOps.Contains(node.OpType),
        _ => false,
    };

    private static string Describe(OnnxNode node) => node.OpType switch
    {
        "MatMulNBits" => "MatMulNBits (the QNN provider builds it for its GPU backend only; use QDQ int4 weights for the HTP)",
        _ when node.Domain is "" or "ai.onnx" => node.OpType,
        _ => $"{node.Domain}:{node.OpType}",
    };

    /// <summary>
    /// Blocked DequantizeLinear nodes (a block_size attribute) whose scales are not the output of another
    /// DequantizeLinear: QNN's provider fuses blockwise weights into an HTP MatMul only in the LPBQ pattern.
    /// </summary>
    private static string[] PlainBlockedDequantizers(OnnxModelSummary model)
    {
        var dequantized = model.Nodes.Where(n => n.OpType == "DequantizeLinear").SelectMany(n => n.Outputs).ToHashSet(StringComparer.Ordinal);
        return
        [
            .. model.Nodes
                .Where(n => n.OpType == "DequantizeLinear" && n.Ints.GetValueOrDefault("block_size") > 0 && !(n.Inputs.Count > 1 && dequantized.Contains(n.Inputs[1])))
                .Select(n => n.Inputs.Count > 0 ? n.Inputs[0] : n.Name),
        ];
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
