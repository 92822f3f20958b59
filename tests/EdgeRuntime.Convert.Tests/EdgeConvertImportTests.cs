using System.Text.Json;
using EdgeRuntime.Conversion.Import;
using EdgeRuntime.Generation.Folder;
using EdgeRuntime.TestModels.Language;
using EdgeRuntime.TestModels.Language.Checkpoints;

namespace EdgeRuntime.Convert.Tests;

/// <summary>edge-convert import: its arguments, and the command run in-process over checkpoints in both published layouts.</summary>
public sealed class EdgeConvertImportTests
{
    private static (int Code, string Output, string Error) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = ImportCommand.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    private static LanguageModelConfig Config => SeededBitNet.Tiny(contextLength: 64);

    [Fact]
    public void The_documented_lines_parse()
    {
        var request = ImportArguments.Parse(["bitnet-b1.58-2B-4T", "models/bitnet", "--tokenizer", "t.json", "--context", "512", "--chat-template", "none", "--json"])!;
        Assert.Equal(("bitnet-b1.58-2B-4T", "models/bitnet", true), (request.Input, request.Output, request.Json));
        Assert.Equal(new ImportOptions { TokenizerPath = "t.json", ContextLength = 512, ChatTemplate = "none" }, request.Options);

        Assert.Equal(EmbeddingFormats.Float32, ImportArguments.Parse(["a", "b", "--embedding", "float32"])!.Options.EmbeddingFormat);
        Assert.Equal(Kernels.Ternary.TernaryLayout.FivePerByte, ImportArguments.Parse(["a", "b", "--ternary-layout", "1.6bit"])!.Options.TernaryLayout);
        Assert.Equal(Kernels.Ternary.TernaryLayout.FourPerByte, ImportArguments.Parse(["a", "b", "--ternary-layout", "2bit"])!.Options.TernaryLayout);
        Assert.Null(ImportArguments.Parse(["a", "b"])!.Options.TernaryLayout);

        var plain = ImportArguments.Parse(["ggml-model-i2_s.gguf", "out"])!;
        Assert.Equal(new ImportOptions(), plain.Options);
        Assert.False(plain.Json);
        Assert.Null(ImportArguments.Parse(["--help"]));
    }

    [Theory]
    [InlineData("give a checkpoint (a Hugging Face folder or a .gguf file) and an output folder", "only-one")]
    [InlineData("give a checkpoint (a Hugging Face folder or a .gguf file) and an output folder", "a", "b", "c")]
    [InlineData("--context is 'lots', not a positive number", "a", "b", "--context", "lots")]
    [InlineData("--context is '0', not a positive number", "a", "b", "--context", "0")]
    [InlineData("unknown option '--to'", "a", "b", "--to", "int4")]
    [InlineData("--block-size is '48'; it must be one of 16, 32, 64, 128, 256", "a", "b", "--block-size", "48")]
    [InlineData("--ternary-layout is '3'; it must be 2bit or 1.6bit", "a", "b", "--ternary-layout", "3")]
    public void Bad_arguments_say_what_is_wrong(string message, params string[] args) =>
        Assert.Equal(message, Assert.Throws<ArgumentException>(() => ImportArguments.Parse(args)).Message);

    [Fact]
    public void The_help_describes_every_option_and_the_converters_help_points_to_it()
    {
        foreach (string option in new[] { "CHECKPOINT", "OUT-FOLDER", "--tokenizer", "--context", "--chat-template", "--embedding", "--projections", "--block-size", "--ternary-layout", "--json" })
        {
            Assert.Contains(option, ImportArguments.Usage, StringComparison.Ordinal);
        }

        Assert.Contains("edge-convert import --help", Arguments.Usage, StringComparison.Ordinal);
        Assert.DoesNotContain("FourPerByte", ImportArguments.Usage, StringComparison.Ordinal);
        var (code, output, _) = Run("--help");
        Assert.Equal(0, code);
        Assert.Contains("I2_S", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Importing_a_hugging_face_checkpoint_writes_a_folder_and_reports_it()
    {
        using var temp = new TempFolder();
        HfBitNetCheckpoint.Write(temp.File("hf"), Config, SeededBitNet.Weights(Config));
        var (code, output, error) = Run(temp.File("hf"), temp.File("out"), "--context", "48");
        Assert.True(code == 0, error);
        Assert.Contains("2 layers, hidden 64, feed-forward 160, 4 query / 2 key-value heads of 16, vocabulary 259, context 48", output, StringComparison.Ordinal);
        Assert.Contains("14 ternary projections, 86,016 weights; β: weight_scale multiplies the output (autobitlinear)", output, StringComparison.Ordinal);

        var folder = LanguageModelFolder.Open(temp.File("out"));
        Assert.Equal(48, folder.Config.ContextLength);
        Assert.Contains($"weights.bin {folder.Config.WeightsBytes:N0} bytes", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Importing_an_lfm2_checkpoint_with_int4_projections_reports_the_sqnr()
    {
        using var temp = new TempFolder();
        var config = SeededLfm2.Tiny(contextLength: 32);
        HfLfm2Checkpoint.Write(temp.File("hf"), config, SeededLfm2.Weights(config));
        var (code, output, error) = Run(temp.File("hf"), temp.File("out"), "--projections", "int4", "--block-size", "32");
        Assert.True(code == 0, error);
        Assert.Contains("imported LFM2 from", output, StringComparison.Ordinal);
        Assert.Contains("4 layers (3 conv (kernel 3) + 1 attention), hidden 64", output, StringComparison.Ordinal);
        Assert.Contains("22 int4 (block 32) projections", output, StringComparison.Ordinal);
        Assert.Matches(@"weight SQNR: \d+\.\d to \d+\.\d dB over 16 projections", output);
        Assert.Matches(@"logits SQNR against the float model: \d+\.\d dB over 31 positions; same most likely token at \d+ of them", output);

        // A BitNet checkpoint has nothing to quantize: its projections are ternary.
        HfBitNetCheckpoint.Write(temp.File("bitnet"), Config, SeededBitNet.Weights(Config));
        var (bitnetCode, _, bitnetError) = Run(temp.File("bitnet"), temp.File("bitnet-out"), "--projections", "int4");
        Assert.Equal(2, bitnetCode);
        Assert.Contains("--projections int4 is for float checkpoints (LFM2); a bitnet model's projections are ternary already.", bitnetError, StringComparison.Ordinal);
    }

    [Fact]
    public void Importing_a_gguf_prints_json_when_asked()
    {
        using var temp = new TempFolder();
        BitNetGguf.Write(temp.File("m.gguf"), Config, SeededBitNet.Weights(Config));
        var (code, output, error) = Run(temp.File("m.gguf"), temp.File("out"), "--json", "--chat-template", "bitnet");
        Assert.True(code == 0, error);
        using var report = JsonDocument.Parse(output);
        Assert.Equal("bitnet.cpp GGUF", report.RootElement.GetProperty("form").GetString());
        Assert.Equal(259, report.RootElement.GetProperty("vocabSize").GetInt32());
        Assert.Equal("bitnet", report.RootElement.GetProperty("chatTemplate").GetString());
        Assert.Equal(new FileInfo(Path.Combine(temp.File("out"), "weights.bin")).Length, report.RootElement.GetProperty("weightsBytes").GetInt64());
        Assert.Equal("bitnet", LanguageModelFolder.Open(temp.File("out")).Config.ChatTemplate);
    }

    [Fact]
    public void A_broken_checkpoint_exits_1_with_the_reason_and_bad_options_exit_2()
    {
        using var temp = new TempFolder();
        HfBitNetCheckpoint.Write(temp.File("hf"), Config, SeededBitNet.Weights(Config), new HfCheckpointOptions { Omit = "model.norm.weight" });
        var (code, _, error) = Run(temp.File("hf"), temp.File("out"));
        Assert.Equal(1, code);
        Assert.Contains("has no tensor model.norm.weight", error, StringComparison.Ordinal);

        (code, _, error) = Run(temp.File("missing"), temp.File("out"));
        Assert.Equal(1, code);
        Assert.Contains("does not exist", error, StringComparison.Ordinal);

        HfBitNetCheckpoint.Write(temp.File("good"), Config, SeededBitNet.Weights(Config));
        (code, _, error) = Run(temp.File("good"), temp.File("out"), "--context", "4096");
        Assert.Equal(2, code);
        Assert.Contains("--context is 4096; it must be 1 to the 64 positions the model was trained for", error, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(temp.File("out"), "config.json")));
    }
}
