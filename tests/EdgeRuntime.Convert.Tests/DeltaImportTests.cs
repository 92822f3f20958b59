using EdgeRuntime.Generation.Folder;
using EdgeRuntime.Protocol;
using EdgeRuntime.TestModels.Language;
using EdgeRuntime.TestModels.Language.Checkpoints;

namespace EdgeRuntime.Convert.Tests;

/// <summary>edge-convert import's DeltaAttention options, and a folder whose deltaAttention cannot work.</summary>
public sealed class DeltaImportTests
{
    [Fact]
    public void A_delta_threshold_writes_the_setting_and_the_op_into_the_folder()
    {
        using var temp = new TempFolder();
        var config = SeededLfm2.Tiny(contextLength: 64);
        HfLfm2Checkpoint.Write(temp.File("hf"), config, SeededLfm2.Weights(config));
        var (code, _, error) = ImportRun.Run(temp.File("hf"), temp.File("out"), "--delta-threshold", "0.5", "--delta-window", "16");
        Assert.True(code == 0, error);
        var folder = LanguageModelFolder.Open(temp.File("out"));
        Assert.Equal((16, 0.5), (folder.Config.DeltaAttention!.Window, folder.Config.DeltaAttention.Threshold));
        var ops = Onnx.OnnxModelSummary.ReadFile(folder.GraphPath).Nodes.Select(n => n.OpType).ToHashSet();
        Assert.Contains("DeltaAttention", ops);
        Assert.DoesNotContain("GroupQueryAttention", ops);
    }

    [Theory]
    [InlineData("--delta-window 8", "--delta-window goes with --delta-threshold")]
    [InlineData("--delta-threshold -1", "--delta-threshold is '-1', not a number of 0 or more")]
    [InlineData("--delta-threshold 0.5 --static-chunk 16", "delta attention is for the dynamic graph")]
    public void Bad_delta_options_exit_2_naming_the_problem(string options, string message)
    {
        using var temp = new TempFolder();
        var config = SeededLfm2.Tiny(contextLength: 64);
        HfLfm2Checkpoint.Write(temp.File("hf"), config, SeededLfm2.Weights(config));
        var (code, _, error) = ImportRun.Run(temp.File("hf"), temp.File("out"), options.Split(' '));
        Assert.Equal(2, code);
        Assert.Contains(message, error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_folder_with_a_window_of_0_is_refused_at_open()
    {
        using var temp = new TempFolder();
        SeededLfm2.WriteFolder(temp.Path, SeededLfm2.Tiny(contextLength: 64) with { DeltaAttention = new DeltaAttentionSettings { Window = 4, Threshold = 0 } });
        string path = Path.Combine(temp.Path, LanguageModelFolder.ConfigFile);
        string json = File.ReadAllText(path);
        Assert.Contains("\"window\": 4", json, StringComparison.Ordinal);
        File.WriteAllText(path, json.Replace("\"window\": 4", "\"window\": 0", StringComparison.Ordinal));
        var error = Assert.Throws<EdgeRuntimeException>(() => LanguageModelFolder.Open(temp.Path));
        Assert.Equal(ErrorCodes.ModelInvalid, error.Code);
        Assert.Contains("deltaAttention needs a window of at least 1 (it is 0)", error.Message, StringComparison.Ordinal);
    }
}
