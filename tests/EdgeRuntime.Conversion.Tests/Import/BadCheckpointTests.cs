using EdgeRuntime.Conversion.Import;
using EdgeRuntime.TestModels.Language.Checkpoints;

namespace EdgeRuntime.Conversion.Tests.Import;

/// <summary>Broken or unsupported checkpoints are refused with a message that names the file, the tensor and the numbers.</summary>
public sealed class BadCheckpointTests
{
    private static string Refusal(string input) =>
        Assert.Throws<InvalidDataException>(() => CheckpointImporter.Read(input, new ImportOptions())).Message;

    private static string HfRefusal(TempFolder temp, HfCheckpointOptions options)
    {
        HfBitNetCheckpoint.Write(temp.Path, ImportChecks.Config, ImportChecks.Weights, options);
        return Refusal(temp.Path);
    }

    private static string GgufRefusal(TempFolder temp, GgufOptions options)
    {
        BitNetGguf.Write(temp.File("m.gguf"), ImportChecks.Config, ImportChecks.Weights, options);
        return Refusal(temp.File("m.gguf"));
    }

    [Fact]
    public void A_truncated_safetensors_file_says_so_with_the_byte_counts()
    {
        using var temp = new TempFolder();
        HfBitNetCheckpoint.Write(temp.Path, ImportChecks.Config, ImportChecks.Weights);
        string file = temp.File("model.safetensors");
        long length = new FileInfo(file).Length;
        using (var stream = File.OpenWrite(file))
        {
            stream.SetLength(length - 100);
        }

        string message = Refusal(temp.Path);
        Assert.Contains("is truncated", message, StringComparison.Ordinal);
        Assert.Contains($"the file has {length - 100}", message, StringComparison.Ordinal);

        using (var stream = File.OpenWrite(file))
        {
            stream.SetLength(5);
        }

        Assert.Contains("the header length", Refusal(temp.Path), StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_tensor_is_named()
    {
        using var temp = new TempFolder();
        Assert.Contains("has no tensor model.layers.1.mlp.up_proj.weight", HfRefusal(temp, new HfCheckpointOptions { Omit = "model.layers.1.mlp.up_proj.weight" }), StringComparison.Ordinal);
        using var other = new TempFolder();
        Assert.Contains("no model.layers.0.self_attn.k_proj.weight_scale", HfRefusal(other, new HfCheckpointOptions { Omit = "model.layers.0.self_attn.k_proj.weight_scale" }), StringComparison.Ordinal);
    }

    [Fact]
    public void A_tensor_of_the_wrong_shape_gives_both_shapes()
    {
        using var temp = new TempFolder();

        // config.json says 128 intermediate features; the file's gate projection packs 160 rows as [40, 64].
        string message = HfRefusal(temp, new HfCheckpointOptions { ConfigOverrides = new Dictionary<string, string?> { ["intermediate_size"] = "128" } });
        Assert.Contains("model.layers.0.mlp.gate_proj.weight is U8 [40, 64]", message, StringComparison.Ordinal);
        Assert.Contains("need [32, 64] (packed [out/4, in] for a [128, 64] projection)", message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_ternary_code_of_3_is_corrupt_in_either_form()
    {
        using var temp = new TempFolder();
        const string hfName = "model.layers.1.self_attn.o_proj.weight";
        string hf = HfRefusal(temp, new HfCheckpointOptions { Tamper = (name, data) => name == hfName ? Set(data, 5, 0b11 << 4) : data });
        Assert.Contains($"{hfName}: packed byte [0, 5] holds the code 3 in bits 4..5 (weight [32, 5])", hf, StringComparison.Ordinal);

        using var other = new TempFolder();
        string gguf = GgufRefusal(other, new GgufOptions { Tamper = (name, data) => name == "blk.0.ffn_up.weight" ? Set(data, 33, 0b11 << 6) : data });
        Assert.Contains("blk.0.ffn_up.weight: weight [2, 1] has the code 3 (byte 33)", gguf, StringComparison.Ordinal);
    }

    [Fact]
    public void Unsupported_gguf_tensor_types_are_named()
    {
        using var temp = new TempFolder();
        string embedding = GgufRefusal(temp, new GgufOptions { EmbeddingType = 14 });
        Assert.Contains("token_embd.weight is Q6_K (ggml type 14); the importer reads the embedding as F32, F16 or BF16", embedding, StringComparison.Ordinal);

        using var other = new TempFolder();
        string projection = GgufRefusal(other, new GgufOptions { ProjectionType = 39 });
        Assert.Contains("blk.0.attn_q.weight is TL2 (ggml type 39); the importer reads ternary projections stored as I2_S (ggml type 36)", projection, StringComparison.Ordinal);
    }

    [Fact]
    public void A_truncated_gguf_and_other_architectures_are_refused()
    {
        using var temp = new TempFolder();
        string file = temp.File("m.gguf");
        BitNetGguf.Write(file, ImportChecks.Config, ImportChecks.Weights);
        using (var stream = File.OpenWrite(file))
        {
            stream.SetLength(stream.Length - 64);
        }

        Assert.Contains("is truncated: tensor output_norm.weight needs bytes", Refusal(file), StringComparison.Ordinal);

        using (var stream = File.OpenWrite(file))
        {
            stream.SetLength(200);
        }

        Assert.Contains("is truncated", Refusal(file), StringComparison.Ordinal);

        using var bitnet = new TempFolder();
        Assert.Contains("SiLU", GgufRefusal(bitnet, new GgufOptions { Architecture = "bitnet" }), StringComparison.Ordinal);
        using var llama = new TempFolder();
        Assert.Contains("general.architecture 'llama'", GgufRefusal(llama, new GgufOptions { Architecture = "llama" }), StringComparison.Ordinal);
    }

    [Fact]
    public void Other_models_and_variants_are_refused_with_the_reason()
    {
        using var a = new TempFolder();
        Assert.Contains("hidden_act is 'silu'", HfRefusal(a, new HfCheckpointOptions { ConfigOverrides = new Dictionary<string, string?> { ["hidden_act"] = "\"silu\"" } }), StringComparison.Ordinal);
        using var b = new TempFolder();
        Assert.Contains("untied head is not supported", HfRefusal(b, new HfCheckpointOptions { ConfigOverrides = new Dictionary<string, string?> { ["tie_word_embeddings"] = "false" } }), StringComparison.Ordinal);
        using var c = new TempFolder();
        Assert.Contains("describes a 'llama' model", HfRefusal(c, new HfCheckpointOptions { ConfigOverrides = new Dictionary<string, string?> { ["model_type"] = "\"llama\"", ["architectures"] = "[\"LlamaForCausalLM\"]" } }), StringComparison.Ordinal);

        // A tensor BitNet b1.58 does not have (a third layer) is not silently dropped.
        using var d = new TempFolder();
        Assert.Contains("holds model.layers.1.", HfRefusal(d, new HfCheckpointOptions { ConfigOverrides = new Dictionary<string, string?> { ["num_hidden_layers"] = "1" } }), StringComparison.Ordinal);

        using var e = new TempFolder();
        File.WriteAllText(e.File("notes.txt"), "not a model");
        Assert.Contains("neither a GGUF file", Refusal(e.File("notes.txt")), StringComparison.Ordinal);
        Assert.Contains("not a Hugging Face checkpoint", Refusal(e.Path), StringComparison.Ordinal);
    }

    private static byte[] Set(byte[] data, int index, int bits)
    {
        data[index] |= (byte)bits;
        return data;
    }
}
