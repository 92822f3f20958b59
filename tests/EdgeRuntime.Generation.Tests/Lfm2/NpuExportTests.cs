using EdgeRuntime.Generation.Evaluation;
using EdgeRuntime.Generation.Families;
using EdgeRuntime.Generation.Families.Lfm2;
using EdgeRuntime.Generation.Folder;
using EdgeRuntime.Inference.Providers;
using EdgeRuntime.Onnx;
using EdgeRuntime.TestModels.Language;
using Xunit.Abstractions;

namespace EdgeRuntime.Generation.Tests.Lfm2;

/// <summary>
/// The NPU form of a hybrid model: the static-shape export with QDQ projections (int4 LPBQ weights, uint16 activations
/// calibrated on tokens). Nothing runs QNN here, so the graphs are proven two ways: ONNX Runtime's CPU provider runs
/// them close to the float model, and our QNN fitness check accepts them, while it rejects the dynamic graph and the
/// other static forms and says why.
/// </summary>
public sealed class NpuExportTests(ITestOutputHelper output)
{
    [Fact]
    public void The_qdq_static_export_suits_the_htp_and_the_other_forms_are_rejected_by_name()
    {
        using var temp = new TempFolder();
        var (config, weights) = Model();
        WriteQdq(temp.File("qdq"), config, weights, temp.File("calibration"));
        SeededLfm2.WriteFolder(temp.File("int4"), Static(config) with { ProjectionFormat = ProjectionFormats.Int4, ProjectionBlockSize = 16 }, weights);
        SeededLfm2.WriteFolder(temp.File("float"), Static(config), weights);
        SeededLfm2.WriteFolder(temp.File("dynamic"), config, weights);

        foreach (string graph in new[] { "prefill.onnx", "decode.onnx" })
        {
            Assert.Null(Unsuitability(temp.File("qdq"), graph));
            Assert.Contains("MatMulNBits", Unsuitability(temp.File("int4"), graph), StringComparison.Ordinal);
            Assert.Contains("not quantized", Unsuitability(temp.File("float"), graph), StringComparison.Ordinal);
        }

        string dynamic = Unsuitability(temp.File("dynamic"), "model.onnx")!;
        Assert.Contains("dynamic input shapes", dynamic, StringComparison.Ordinal);
        Assert.Contains("com.microsoft:GroupQueryAttention", dynamic, StringComparison.Ordinal);
        Assert.Contains("SimplifiedLayerNormalization", dynamic, StringComparison.Ordinal);
        Assert.Contains("ai.edgeruntime:Int8RowLinear", dynamic, StringComparison.Ordinal);
    }

    [Fact]
    public void The_qdq_export_runs_on_the_cpu_provider_close_to_the_float_static_graphs()
    {
        using var temp = new TempFolder();
        var (config, weights) = Model();
        WriteQdq(temp.File("qdq"), config, weights, temp.File("calibration"));
        SeededLfm2.WriteFolder(temp.File("float"), Static(config), weights);

        var comparison = LogitsComparison.Run(temp.File("float"), temp.File("qdq"), positions: 40);
        output.WriteLine($"QDQ against float, 40 positions: {comparison.SqnrDb:0.0} dB, same top token at {comparison.SameArgMax}");

        // Int4 weights cost this random network most of its accuracy (the MatMulNBits test measures 7.6-10.5 dB against
        // the float weights at these sizes; this export measured 11.4 dB); uint16 activations add little. A wrong layout
        // (transposed codes, scales on the wrong axis, a sign error in the nibbles) leaves logits uncorrelated: below 1 dB.
        Assert.True(comparison.SqnrDb > 5, $"{comparison.SqnrDb:0.0} dB");
    }

    [Fact]
    public void Qdq_projections_without_calibrated_ranges_or_a_static_section_are_refused()
    {
        using var temp = new TempFolder();
        var (config, weights) = Model();
        var qdq = Static(config) with { ProjectionFormat = ProjectionFormats.Qdq, ProjectionBlockSize = 16 };
        var error = Assert.Throws<ArgumentException>(() => SeededLfm2.WriteFolder(temp.File("uncalibrated"), qdq, weights));
        Assert.Contains("calibrated", error.Message, StringComparison.Ordinal);

        WriteQdq(temp.File("qdq"), config, weights, temp.File("calibration"));
        string path = Path.Combine(temp.File("qdq"), LanguageModelFolder.ConfigFile);
        var written = System.Text.Json.JsonSerializer.Deserialize(File.ReadAllText(path), GenerationJsonContext.Default.LanguageModelConfig)!;
        File.WriteAllText(path, System.Text.Json.JsonSerializer.Serialize(written with { Static = null }, GenerationJsonContext.Default.LanguageModelConfig));
        var refused = Assert.Throws<Protocol.EdgeRuntimeException>(() => LanguageModelFolder.Open(temp.File("qdq")));
        Assert.Contains("static", refused.Message, StringComparison.Ordinal);
    }

    private static (LanguageModelConfig Config, Lfm2Weights Weights) Model()
    {
        var config = SeededLfm2.Tiny(contextLength: 64);
        return (config, SeededLfm2.Weights(config, seed: 9));
    }

    private static LanguageModelConfig Static(LanguageModelConfig config) => StaticExportTests.Static(config);

    /// <summary>Calibrates on 8 sequences of seeded byte tokens, then writes the QDQ static folder (block 16).</summary>
    private static void WriteQdq(string folder, LanguageModelConfig config, Lfm2Weights weights, string work)
    {
        var qdq = Static(config) with { ProjectionFormat = ProjectionFormats.Qdq, ProjectionBlockSize = 16 };
        var random = new Random(4);
        var sequences = Enumerable.Range(0, 8).Select(_ => Enumerable.Range(0, 40).Select(_ => (long)random.Next(256)).ToArray()).ToArray();
        var ranges = ActivationCalibration.Run(qdq, weights, SeededLfm2.TokenizerIn(work + ".tokenizer"), sequences, work, threads: 1);
        SeededLfm2.WriteFolder(folder, qdq, weights, ranges);
    }

    private static string? Unsuitability(string folder, string graph) =>
        QnnOptions.HtpWholeGraphUnsuitability(OnnxModelSummary.ReadFile(Path.Combine(folder, graph)));
}
