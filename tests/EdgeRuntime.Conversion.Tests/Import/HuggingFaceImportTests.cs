using EdgeRuntime.Conversion.Import;
using EdgeRuntime.Generation.Folder;
using EdgeRuntime.Kernels.Ternary;
using EdgeRuntime.Onnx;
using EdgeRuntime.TestModels.Language.Checkpoints;

namespace EdgeRuntime.Conversion.Tests.Import;

/// <summary>Hugging Face checkpoints written in 2B4T's published layout from seeded weights, imported.</summary>
public sealed class HuggingFaceImportTests
{
    [Fact]
    public async Task A_packed_checkpoint_imports_the_weights_it_holds_and_the_folder_generates_as_the_reference_does()
    {
        using var temp = new TempFolder();
        string checkpoint = temp.File("bitnet-b1.58-2B-4T");
        var stored = HfBitNetCheckpoint.Write(checkpoint, ImportChecks.Config, ImportChecks.Weights);

        var imported = CheckpointImporter.Read(checkpoint, new ImportOptions());
        Assert.Equal(CheckpointForm.HuggingFace, imported.Form);
        ImportChecks.SameSizes(ImportChecks.Config, imported.Config);
        ImportChecks.SameWeights(stored, imported.Weights);
        Assert.Contains("autobitlinear", imported.ScaleNote, StringComparison.Ordinal);

        // bf16 really rounded something: the reference must be given what the file holds, not the seeded floats.
        Assert.NotEqual(ImportChecks.Weights.Embedding, imported.Weights.Embedding);

        string folder = temp.File("imported");
        var report = CheckpointImporter.Import(checkpoint, folder, new ImportOptions());
        Assert.Equal((2, 64, 14, 86_016L), (report.Layers, report.HiddenSize, report.Projections, report.ProjectionWeights));
        Assert.Equal(new FileInfo(Path.Combine(folder, "weights.bin")).Length, report.WeightsBytes);
        Assert.Equal(new FileInfo(Path.Combine(checkpoint, "model.safetensors")).Length, report.InputBytes);
        Assert.StartsWith("Hugging Face checkpoint", LanguageModelFolder.Open(folder).Config.Source, StringComparison.Ordinal);
        await ImportChecks.GeneratesLikeTheReference(folder, stored);

        // Importing again over the folder replaces it; importing into the checkpoint's own folder would overwrite its
        // config.json, and is refused.
        CheckpointImporter.Import(checkpoint, folder, new ImportOptions { ContextLength = 16 });
        Assert.Equal(16, LanguageModelFolder.Open(folder).Config.ContextLength);
        string before = File.ReadAllText(Path.Combine(checkpoint, "config.json"));
        Assert.Contains("not a language-model folder's", Assert.Throws<ArgumentException>(() => CheckpointImporter.Import(checkpoint, checkpoint, new ImportOptions())).Message, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllText(Path.Combine(checkpoint, "config.json")));
    }

    [Fact]
    public async Task The_1_6_bit_layout_writes_smaller_projections_that_generate_as_the_reference_does()
    {
        using var temp = new TempFolder();
        string checkpoint = temp.File("hf");
        var stored = HfBitNetCheckpoint.Write(checkpoint, ImportChecks.Config, ImportChecks.Weights);
        var twoBit = CheckpointImporter.Import(checkpoint, temp.File("two-bit"), new ImportOptions());
        string folder = temp.File("five-per-byte");
        var fivePerByte = CheckpointImporter.Import(checkpoint, folder, new ImportOptions { TernaryLayout = TernaryLayout.FivePerByte });

        // Every projection row shrinks from the 2-bit row to the 1.6-bit one; nothing else in the file changes.
        long saved = stored.Layers.SelectMany(l => new[] { l.Query, l.Key, l.Value, l.Output, l.Gate, l.Up, l.Down })
            .Sum(m => (long)m.Rows * (TernaryPacking.RowBytes(m.Columns) - TritPacking.RowBytes(m.Columns)));
        Assert.Equal(twoBit.WeightsBytes - saved, fivePerByte.WeightsBytes);
        Assert.Equal("ternary (1.6-bit, five weights a byte)", fivePerByte.ProjectionFormat);

        var graph = OnnxModelSummary.Read(File.ReadAllBytes(Path.Combine(folder, "model.onnx")));
        var bitLinear = graph.Nodes.Where(n => n.OpType == "BitLinear").ToArray();
        Assert.Equal(4 * ImportChecks.Config.Layers, bitLinear.Length);
        Assert.All(bitLinear, n => Assert.Equal(5L, n.Ints["trits_per_byte"]));
        await ImportChecks.GeneratesLikeTheReference(folder, stored);
    }

    [Fact]
    public void Weight_scale_multiplies_for_autobitlinear_and_divides_for_bitlinear()
    {
        using var temp = new TempFolder();
        var source = ImportChecks.Weights;
        var auto = HfBitNetCheckpoint.Write(temp.File("auto"), ImportChecks.Config, source, new HfCheckpointOptions { LinearClass = "autobitlinear" });
        var plain = HfBitNetCheckpoint.Write(temp.File("plain"), ImportChecks.Config, source, new HfCheckpointOptions { LinearClass = "bitlinear" });

        float seeded = source.Layers[0].Query.Beta;
        float stored = ReadScale(temp.File("auto"), "model.layers.0.self_attn.q_proj.weight_scale");
        float inverted = ReadScale(temp.File("plain"), "model.layers.0.self_attn.q_proj.weight_scale");
        Assert.Equal(seeded, stored, seeded / 100);
        Assert.Equal(1 / seeded, inverted, 1 / seeded / 100);

        // Both come back as β (within bf16's precision of the stored number), which multiplies the output.
        var fromAuto = CheckpointImporter.Read(temp.File("auto"), new ImportOptions()).Weights;
        var fromPlain = CheckpointImporter.Read(temp.File("plain"), new ImportOptions()).Weights;
        ImportChecks.SameWeights(auto, fromAuto);
        ImportChecks.SameWeights(plain, fromPlain);
        Assert.Equal(stored, fromAuto.Layers[0].Query.Beta);
        Assert.Equal(1 / inverted, fromPlain.Layers[0].Query.Beta);
        Assert.Equal(seeded, fromPlain.Layers[0].Query.Beta, seeded / 100);
    }

    [Fact]
    public void A_sharded_checkpoint_reads_through_its_index()
    {
        using var temp = new TempFolder();
        var stored = HfBitNetCheckpoint.Write(temp.Path, ImportChecks.Config, ImportChecks.Weights, new HfCheckpointOptions { Shards = 3 });
        Assert.False(File.Exists(temp.File("model.safetensors")));
        Assert.True(File.Exists(temp.File("model-00003-of-00003.safetensors")));

        var imported = CheckpointImporter.Read(temp.File("config.json"), new ImportOptions());
        ImportChecks.SameWeights(stored, imported.Weights);
        Assert.Equal(3, imported.InputFiles);
    }

    [Fact]
    public void Bf16_master_weights_are_ternarized_with_absmean_as_transformers_does_online()
    {
        using var temp = new TempFolder();
        var source = ImportChecks.Weights;
        var expected = HfBitNetCheckpoint.Write(temp.Path, ImportChecks.Config, source, new HfCheckpointOptions { Masters = true });
        var imported = CheckpointImporter.Read(temp.Path, new ImportOptions());

        // The codes are the seeded ones; β is mean|W| of the masters (near 0.7 of the seeded β: a third of them are ~0).
        ImportChecks.SameWeights(expected, imported.Weights);
        var query = imported.Weights.Layers[1].Query;
        Assert.Equal(source.Layers[1].Query.Packed, query.Packed);
        Assert.InRange(query.Beta / source.Layers[1].Query.Beta, 0.6, 0.75);
        Assert.Contains("online", imported.ScaleNote, StringComparison.Ordinal);
    }

    [Fact]
    public void The_chat_template_is_recognised_and_the_context_can_be_shortened()
    {
        using var temp = new TempFolder();
        const string bitnetTemplate = "{% for message in messages %}{% if loop.first %}{{ bos_token }}{% endif %}{{ message['role'] | capitalize + ': ' + message['content'] + '<|eot_id|>' }}{% endfor %}{% if add_generation_prompt %}{{ 'Assistant: ' }}{% endif %}";
        HfBitNetCheckpoint.Write(temp.Path, ImportChecks.Config, ImportChecks.Weights, new HfCheckpointOptions { ChatTemplate = bitnetTemplate });

        Assert.Equal("bitnet", CheckpointImporter.Read(temp.Path, new ImportOptions()).Config.ChatTemplate);
        Assert.Null(CheckpointImporter.Read(temp.Path, new ImportOptions { ChatTemplate = "none" }).Config.ChatTemplate);
        Assert.Equal("llama3", CheckpointImporter.Read(temp.Path, new ImportOptions { ChatTemplate = "llama3" }).Config.ChatTemplate);
        Assert.Contains("must be one of", Assert.Throws<ArgumentException>(() => CheckpointImporter.Read(temp.Path, new ImportOptions { ChatTemplate = "alpaca" })).Message, StringComparison.Ordinal);

        Assert.Equal(32, CheckpointImporter.Read(temp.Path, new ImportOptions { ContextLength = 32 }).Config.ContextLength);
        Assert.Contains("1 to the 64 positions", Assert.Throws<ArgumentException>(() => CheckpointImporter.Read(temp.Path, new ImportOptions { ContextLength = 65 })).Message, StringComparison.Ordinal);
    }

    private static float ReadScale(string folder, string name)
    {
        using var file = SafeTensorsFile.Open(Path.Combine(folder, "model.safetensors"));
        var tensor = file.Tensors[name];
        Assert.Equal("BF16", tensor.DType);
        Assert.Equal([1L], tensor.Shape);
        return FloatFormats.Decode(tensor.Bytes(), FloatFormat.BF16, 1)[0];
    }
}
