using System.Text.Json;
using EdgeRuntime.Generation.Folder;
using EdgeRuntime.TestModels.Language;
using EdgeRuntime.TestModels.Language.Checkpoints;
using EdgeRuntime.TestSupport;

namespace EdgeRuntime.Convert.Tests;

/// <summary>
/// edge-convert import's NPU export (--static-chunk, --projections qdq) on the trained LFM2 checkpoint and on bad
/// option combinations.
/// </summary>
public sealed class NpuExportImportTests
{
    [Fact]
    public void The_trained_lfm2_exports_to_qdq_graphs_the_htp_check_accepts_within_the_logits_target()
    {
        string checkpoint = Path.Combine(Repository.Root, "tools", "lfm2", "checkpoint");
        string calibration = Path.Combine(Repository.Root, "tools", "lfm2", "calibration.txt");
        using var temp = new TempFolder();
        var (code, output, error) = ImportRun.Run(checkpoint, temp.Path, "--projections", "qdq", "--block-size", "16", "--static-chunk", "32", "--static-capacity", "256", "--calibration", calibration, "--json");
        Assert.True(code == 0, error);
        using var report = JsonDocument.Parse(output);
        var root = report.RootElement;
        Assert.Equal("accepted", root.GetProperty("htpCheck").GetString());
        Assert.Equal(4096, root.GetProperty("calibrationTokens").GetInt32());

        // The target is 30 dB on the logits; measured 30.5 dB (GPTQ rounding, int8 head). Rounding to the nearest
        // code gave 29.3, so a regression in the rounding shows here.
        double sqnr = root.GetProperty("logitsSqnrDb").GetDouble();
        Assert.True(sqnr >= 30, $"logits SQNR {sqnr:0.00} dB");

        var folder = LanguageModelFolder.Open(temp.Path);
        Assert.Equal((32, 256), (folder.Config.Static!.PrefillChunk, folder.Config.Static.Capacity));
        Assert.Equal(ProjectionFormats.Qdq, folder.Config.ProjectionFormat);
    }

    [Fact]
    public void Gptq_rounding_takes_the_trained_lfm2s_int4_folder_past_30_db_at_block_32()
    {
        string checkpoint = Path.Combine(Repository.Root, "tools", "lfm2", "checkpoint");
        string calibration = Path.Combine(Repository.Root, "tools", "lfm2", "calibration.txt");
        using var temp = new TempFolder();
        double Sqnr(params string[] options)
        {
            var (code, output, error) = ImportRun.Run(checkpoint, temp.File(Guid.NewGuid().ToString("N")), [.. options, "--json"]);
            Assert.True(code == 0, error);
            using var report = JsonDocument.Parse(output);
            return report.RootElement.GetProperty("logitsSqnrDb").GetDouble();
        }

        // Measured: 28.6 dB rounding each block to its searched grid, 30.2 dB with GPTQ (the target is 30 dB).
        double nearest = Sqnr("--projections", "int4", "--block-size", "32");
        double gptq = Sqnr("--projections", "int4", "--block-size", "32", "--calibration", calibration);
        Assert.True(gptq >= 30 && gptq > nearest + 1, $"GPTQ {gptq:0.00} dB, nearest {nearest:0.00} dB");
    }

    [Theory]
    [InlineData("--calibration calibration.txt", "--calibration goes with --projections int4 (GPTQ rounding) or qdq")]
    [InlineData("--projections qdq --block-size 16", "--projections qdq is the NPU form: it needs --static-chunk")]
    [InlineData("--static-capacity 64", "--static-capacity goes with --static-chunk")]
    [InlineData("--static-chunk 64 --static-capacity 32", "they need 1 <= chunk <= capacity <= the context (96)")]
    [InlineData("--static-chunk 0", "--static-chunk is '0', not a positive number")]
    [InlineData("--head int4 --static-chunk 16", "a static export quantizes its head with its projections")]
    [InlineData("--head int8", "--head is 'int8'")]
    public void Bad_static_export_or_head_options_exit_2_naming_the_problem(string options, string message)
    {
        using var temp = new TempFolder();
        var config = SeededLfm2.Tiny(contextLength: 96);
        HfLfm2Checkpoint.Write(temp.File("hf"), config, SeededLfm2.Weights(config));
        var (code, _, error) = ImportRun.Run(temp.File("hf"), temp.File("out"), options.Split(' '));
        Assert.Equal(2, code);
        Assert.Contains(message, error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_static_export_of_a_bitnet_checkpoint_is_refused()
    {
        using var temp = new TempFolder();
        var config = SeededBitNet.Tiny(contextLength: 48);
        HfBitNetCheckpoint.Write(temp.File("hf"), config, SeededBitNet.Weights(config));
        var (code, _, error) = ImportRun.Run(temp.File("hf"), temp.File("out"), "--static-chunk", "16");
        Assert.Equal(2, code);
        Assert.Contains("static-shape graphs for LFM2 checkpoints", error, StringComparison.Ordinal);
    }
}
