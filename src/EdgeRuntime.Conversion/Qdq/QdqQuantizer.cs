using EdgeRuntime.Conversion.Weights;
using EdgeRuntime.Onnx;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Conversion.Qdq;

/// <summary>
/// How to quantize statically: activation bits (8, or 16 for W8A16), how their ranges are calibrated, and the weights'
/// bits. Weights default to 7 bits beside 8-bit activations: ONNX Runtime's x64 kernels without VNNI multiply uint8 by
/// int8 with vpmaddubsw, whose int16 pair sums saturate once full 8-bit weights meet large activations (the CBNet CNN's
/// output fell from 34.4 to 14.6 dB). Give 8 when the model runs on arm64, VNNI or an NPU. Beside 16-bit activations,
/// which no CPU kernel fuses, weights are 8 bits.
/// </summary>
public sealed record QdqOptions(int ActivationBits = 8, CalibrationMethod Method = CalibrationMethod.MinMax, double Percentile = 99.999, int? WeightBits = null)
{
    public int EffectiveWeightBits => WeightBits ?? (ActivationBits == 8 ? 7 : 8);
}

/// <summary>The float model's outputs against the quantized model's, as SQNR in dB (the worst float output).</summary>
public sealed record QdqAccuracy(int CalibrationSamples, int HeldBackSamples, double CalibrationSqnrDb, double? HeldBackSqnrDb);

/// <summary>The QDQ model, its layers (weights' SQNR and bytes), the layers left alone and why, and the end-to-end accuracy.</summary>
public sealed record QdqResult(byte[] Model, IReadOnlyList<LayerReport> Layers, IReadOnlyList<string> Skipped, int FoldedBatchNorms, int QuantizedActivations, QdqAccuracy? Accuracy)
{
    /// <summary>Conv pairs rescaled by cross-layer equalization (<see cref="ChannelEqualization"/>); 0 when it was not kept.</summary>
    public int EqualizedPairs { get; init; }

    /// <summary>
    /// When equalization was tried, the calibration SQNR of the candidate not kept: without equalization when it was
    /// kept, with it when it was not.
    /// </summary>
    public double? OtherCandidateCalibrationSqnrDb { get; init; }
}

/// <summary>
/// Static quantization to the QDQ form ONNX Runtime fuses into integer kernels and QNN's HTP compiles:
/// <list type="bullet">
/// <item>BatchNormalization is folded into the Conv before it (<see cref="BatchNormFolding"/>).</item>
/// <item>Cross-layer equalization (<see cref="ChannelEqualization"/>) is tried: the model is quantized with and without
/// it, and the one closer to the float model on the calibration samples is kept.</item>
/// <item>Conv, ConvTranspose, MatMul and Gemm with constant float weights get int8 weights, symmetric, one scale per
/// output channel, behind a DequantizeLinear. A Conv or Gemm bias becomes int32 at scale x_scale·w_scale, as the
/// integer kernels add it.</item>
/// <item>Each of those layers' activation input and output gets a QuantizeLinear → DequantizeLinear pair: uint8 (or
/// uint16 with 16-bit activations), asymmetric, over the range calibrated on the samples and widened to hold 0. Every
/// reader of such a tensor reads the dequantized one. An output read only by a Relu is quantized after the Relu.</item>
/// </list>
/// Q/DQ are the standard ops from opset 13 (21 for 16 bits); below that ORT's com.microsoft ones, which take the same
/// attributes, so the model's own opset and every other op stay as they were.
/// </summary>
public static class QdqQuantizer
{
    /// <summary>edge-convert --to int8: loads the calibration samples against the model's inputs, quantizes, and reports.</summary>
    public static ConversionResult Convert(byte[] model, ConversionOptions options, string? modelDirectory)
    {
        string folder = options.Calibration ?? throw new ArgumentException("--to int8 needs --calibration FOLDER: static quantization takes its activation ranges from samples of the model's inputs (.npy)");
        var samples = CalibrationSet.Load(folder, InputsOf(model, modelDirectory));
        QdqResult result;
        try
        {
            result = Quantize(model, modelDirectory, samples, options.Qdq);
        }
        catch (Microsoft.ML.OnnxRuntime.OnnxRuntimeException e)
        {
            // The float model failing on a sample, or the quantized one being refused: say which, never a stack trace.
            throw new InvalidDataException($"ONNX Runtime failed while calibrating or measuring: {e.Message}", e);
        }

        string htp = Inference.Providers.QnnOptions.HtpWholeGraphUnsuitability(OnnxModelSummary.Read(result.Model)) ?? "accepted";
        string calibration = options.Qdq.Method == CalibrationMethod.Percentile ? $"percentile {options.Qdq.Percentile.ToString(System.Globalization.CultureInfo.InvariantCulture)}" : "min-max";
        return new ConversionResult(result.Model, result.Layers, result.Skipped, model.LongLength)
        {
            ReadExternalData = ExternalInitializers.Read(model).Count > 0,
            Qdq = new QdqDetails(result.FoldedBatchNorms, result.QuantizedActivations, options.Qdq.ActivationBits, options.Qdq.EffectiveWeightBits, calibration, result.Accuracy, htp, result.EqualizedPairs, result.OtherCandidateCalibrationSqnrDb),
        };
    }

    /// <summary>What the model's inputs take, as ONNX Runtime reads them (external data read from the model's folder).</summary>
    public static IReadOnlyList<ModelInput> InputsOf(byte[] model, string? modelDirectory)
    {
        var graph = EditableGraph.Parse(ProtoReader.FirstBytes(model, OnnxFields.Model.Graph), modelDirectory);

        // ORT has no kernel for some ops at the oldest opsets (Gemm before 7): read the inputs off the model as it will
        // be quantized, and refuse here, with the reason, what the move refuses.
        model = MoveToOpsetTen(model, graph, ModelOpsets.Version(model, OnnxDomains.Default));

        try
        {
            return SampleRunner.InputsOf(ModelGraph.Replace(model, graph.Write()));
        }
        catch (Microsoft.ML.OnnxRuntime.OnnxRuntimeException e)
        {
            throw new InvalidDataException($"ONNX Runtime cannot load the float model: {e.Message}", e);
        }
    }

    public static QdqResult Quantize(byte[] model, string? modelDirectory, CalibrationSet samples, QdqOptions options)
    {
        if (options.ActivationBits is not (8 or 16))
        {
            throw new ArgumentException($"activations must be 8 or 16 bits, not {options.ActivationBits}");
        }

        if (options.EffectiveWeightBits is not (7 or 8))
        {
            throw new ArgumentException($"weights must be 7 or 8 bits, not {options.EffectiveWeightBits}");
        }

        long opset = ModelOpsets.Version(model, OnnxDomains.Default);
        bool standard = opset >= (options.ActivationBits == 16 ? 21 : 13);
        var graph = EditableGraph.Parse(ProtoReader.FirstBytes(model, OnnxFields.Model.Graph), modelDirectory);
        byte[] original = model;
        model = MoveToOpsetTen(model, graph, opset);

        int folded = BatchNormFolding.Fold(graph, Catalog(graph, modelDirectory));

        // The folded norms' and convs' old tensors go now: ORT refuses an IR 3 model whose initializer nothing reads.
        graph.DropUnread();
        byte[] foldedGraph = graph.Write();
        byte[] foldedModel = ModelGraph.Replace(model, foldedGraph);
        var plain = QuantizeGraph(model, graph, modelDirectory, samples, options, standard, foldedModel);
        if (plain is null)
        {
            // Nothing to quantize: the input as it came, without the folds or the opset move made on the way.
            var skippedOnly = EditableGraph.Parse(foldedGraph, modelDirectory);
            return new QdqResult(original, [], Skipped(skippedOnly, Catalog(skippedOnly, modelDirectory)), 0, 0, null);
        }

        // Cross-layer equalization trades the second conv's weight precision for the activation's: it pays where one
        // channel stretches a tensor's range, and costs where none does. Both are quantized, and the one closer to the
        // float model on the calibration samples (never the held-back ones) is kept.
        var equalizedGraph = EditableGraph.Parse(foldedGraph, modelDirectory);
        int pairs = ChannelEqualization.Equalize(equalizedGraph, Catalog(equalizedGraph, modelDirectory), foldedModel, samples.Calibration);
        var result = plain with { FoldedBatchNorms = folded };
        if (pairs > 0)
        {
            equalizedGraph.DropUnread();
            // Both candidates are measured against the same float model, the folded one without equalization.
            var equalized = QuantizeGraph(model, equalizedGraph, modelDirectory, samples, options, standard, foldedModel)!;
            double without = plain.Accuracy?.CalibrationSqnrDb ?? double.NegativeInfinity;
            result = (equalized.Accuracy?.CalibrationSqnrDb ?? double.NegativeInfinity) > without
                ? equalized with { FoldedBatchNorms = folded, EqualizedPairs = pairs, OtherCandidateCalibrationSqnrDb = plain.Accuracy?.CalibrationSqnrDb }
                : result with { OtherCandidateCalibrationSqnrDb = equalized.Accuracy?.CalibrationSqnrDb };
        }

        return result;
    }

    /// <summary>The layers that can be quantized; each other candidate is added to <paramref name="skipped"/> with its reason.</summary>
    private static List<(GraphNode Node, string Label, ResolvedWeight Weight, int Axis)> Chosen(EditableGraph graph, WeightCatalog catalog, List<string> skipped)
    {
        var chosen = new List<(GraphNode Node, string Label, ResolvedWeight Weight, int Axis)>();
        foreach (var node in graph.Nodes.Where(n => BatchNormFolding.IsStandard(n.Proto) && n.Proto.OpType is "Conv" or "ConvTranspose" or "MatMul" or "Gemm"))
        {
            var p = node.Proto;
            string label = p.Name.Length > 0 ? p.Name : $"{p.OpType} -> {p.Outputs.FirstOrDefault()}";
            if (Problem(p, catalog, out var weight) is { } problem)
            {
                skipped.Add($"{label}: {problem}");
                continue;
            }

            chosen.Add((node, label, weight!, WeightAxis(p)));
        }

        return chosen;
    }

    private static List<string> Skipped(EditableGraph graph, WeightCatalog catalog)
    {
        var skipped = new List<string>();
        Chosen(graph, catalog, skipped);
        return skipped;
    }

    /// <summary>
    /// Quantizes the (folded, opset-moved) graph in place and measures it against <paramref name="reference"/>, the float
    /// model; null when it has no layer to quantize.
    /// </summary>
    private static QdqResult? QuantizeGraph(byte[] model, EditableGraph graph, string? modelDirectory, CalibrationSet samples, QdqOptions options, bool standard, byte[] reference)
    {
        var catalog = Catalog(graph, modelDirectory);

        var layers = new List<LayerReport>();
        var skipped = new List<string>();
        var chosen = Chosen(graph, catalog, skipped);
        if (chosen.Count == 0)
        {
            return null;
        }

        // The activations to quantize: each chosen layer's input and output. An output that only a Relu reads is
        // quantized after the Relu instead: its range then starts at 0, so the 8 bits cover twice the resolution, and
        // ORT drops the Relu into the fused integer op (a Q whose zero point is the lowest code clips as Relu does).
        var consumers = graph.Consumers();
        string QuantizedOutput(OnnxNodeProto node)
        {
            string output = node.Outputs[0];
            return consumers.TryGetValue(output, out var readers) && readers is [{ Proto: { OpType: "Relu" } relu }] && BatchNormFolding.IsStandard(relu)
                && !graph.Outputs.Contains(output) && !graph.SubgraphReads.Contains(output) ? relu.Outputs[0] : output;
        }

        // An output no node reads (only a graph output) gets no Q/DQ: nothing would read the dequantized tensor.
        var tensors = chosen.SelectMany(c => new[] { c.Node.Proto.Inputs[0], QuantizedOutput(c.Node.Proto) })
            .Where(t => consumers.ContainsKey(t) || graph.SubgraphReads.Contains(t))
            .Distinct(StringComparer.Ordinal).ToList();
        byte[] floatModel = ModelGraph.Replace(model, graph.Write());
        var ranges = ActivationStatistics.Ranges(floatModel, tensors, graph.Outputs, samples.Calibration, options.Method, options.Percentile);

        var writer = new QdqWriter(graph, options.ActivationBits, options.EffectiveWeightBits, standard ? OnnxDomains.Default : OnnxDomains.Microsoft);
        foreach (string tensor in tensors)
        {
            writer.QuantizeActivation(tensor, ranges[tensor]);
        }

        foreach (var (node, label, weight, axis) in chosen)
        {
            if (writer.QuantizeWeights(node, label, weight, axis, catalog) is { } report)
            {
                layers.Add(report);
            }
        }

        graph.DropUnread();
        byte[] quantized = ModelGraph.Replace(model, graph.Write());
        if (!standard)
        {
            quantized = ModelOpsets.With(quantized, OnnxDomains.Microsoft, 1);
        }

        return new QdqResult(quantized, layers, skipped, 0, tensors.Count, Measure(reference, quantized, samples));
    }

    /// <summary>The model at opset 10 with <paramref name="graph"/> rewritten for it, when it is below; the reason when it cannot be moved.</summary>
    private static byte[] MoveToOpsetTen(byte[] model, EditableGraph graph, long opset)
    {
        if (opset < OpsetTen.Oldest)
        {
            throw new InvalidDataException($"the model is opset {opset}; edge-convert moves opsets {OpsetTen.Oldest} to 9 to 10 for the fused integer ops, but below {OpsetTen.Oldest} ops carry the legacy consumed_inputs attribute and other schemas: convert the model to opset 10 or later first (onnx.version_converter)");
        }

        if (opset >= OpsetTen.Version)
        {
            return model;
        }

        return OpsetTen.Upgrade(graph, opset) is { } refused ? throw new InvalidDataException(refused) : ModelOpsets.With(model, OnnxDomains.Default, OpsetTen.Version);
    }

    private static WeightCatalog Catalog(EditableGraph graph, string? modelDirectory) =>
        new(graph.Initializers, [.. graph.Nodes.Select(n => n.Proto)], graph.FedInputs, modelDirectory);

    /// <summary>The axis of W that indexes output channels: Conv [M, C/g, ...] 0, ConvTranspose [C, M/g, ...] 1, MatMul [K, N] 1, Gemm 1 or (transB) 0.</summary>
    private static int WeightAxis(OnnxNodeProto node) => node.OpType switch
    {
        "Conv" => 0,
        "Gemm" => node.Int("transB") == 1 ? 0 : 1,
        _ => 1,
    };

    private static string? Problem(OnnxNodeProto node, WeightCatalog catalog, out ResolvedWeight? weight)
    {
        weight = null;
        if (node.Inputs.Count < 2 || node.Outputs.Length == 0)
        {
            return "it has no weight input";
        }

        if (node.OpType == "Gemm" && (node.Int("transA") != 0 || node.Float("alpha", 1) != 1 || node.Float("beta", 1) != 1))
        {
            return "Gemm with transA, alpha or beta other than the defaults is not quantized";
        }

        if (catalog.Resolve(node.Inputs[0], out _) is not null)
        {
            return "its input is a constant, not an activation";
        }

        weight = catalog.Resolve(node.Inputs[1], out string? problem);
        if (weight is null)
        {
            return $"its weights '{node.Inputs[1]}' {problem}";
        }

        int rank = weight.Dims.Length;
        return weight.ElementType != OnnxDataType.Float ? $"its weights '{node.Inputs[1]}' are not float (data type {weight.ElementType})"
            : node.OpType is "MatMul" or "Gemm" && rank != 2 ? $"its weights '{node.Inputs[1]}' have rank {rank}, not 2"
            : node.OpType is "Conv" or "ConvTranspose" && rank < 3 ? $"its weights '{node.Inputs[1]}' have rank {rank}"
            : null;
    }

    /// <summary>The outputs' SQNR; null when the model has no float output to compare (an ArgMax at the end, say).</summary>
    private static QdqAccuracy? Measure(byte[] floatModel, byte[] quantized, CalibrationSet samples)
    {
        using var exact = new SampleRunner(floatModel);
        using var approximate = new SampleRunner(quantized);
        var outputs = exact.FloatOutputs;
        if (outputs.Count == 0)
        {
            return null;
        }

        double Sqnr(IReadOnlyList<CalibrationSample> set)
        {
            var signal = new double[outputs.Count];
            var noise = new double[outputs.Count];
            foreach (var sample in set)
            {
                var a = exact.Run(sample, outputs);
                var b = approximate.Run(sample, outputs);
                for (int o = 0; o < outputs.Count; o++)
                {
                    for (int i = 0; i < a[o].Length; i++)
                    {
                        signal[o] += (double)a[o][i] * a[o][i];
                        noise[o] += (double)(a[o][i] - b[o][i]) * (a[o][i] - b[o][i]);
                    }
                }
            }

            return Enumerable.Range(0, outputs.Count).Min(o => noise[o] == 0 ? double.PositiveInfinity : 10 * Math.Log10(signal[o] / noise[o]));
        }

        return new QdqAccuracy(samples.Calibration.Count, samples.HeldBack.Count, Sqnr(samples.Calibration), samples.HeldBack.Count > 0 ? Sqnr(samples.HeldBack) : null);
    }
}
