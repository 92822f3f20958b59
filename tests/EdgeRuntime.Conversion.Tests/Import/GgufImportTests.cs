using EdgeRuntime.Conversion.Import;
using EdgeRuntime.Generation.Tokenization;
using EdgeRuntime.TestModels.Language;
using EdgeRuntime.TestModels.Language.Checkpoints;

namespace EdgeRuntime.Conversion.Tests.Import;

/// <summary>bitnet.cpp GGUFs (I2_S) written in 2B4T's published layout from seeded weights, imported.</summary>
public sealed class GgufImportTests
{
    [Fact]
    public async Task An_i2s_gguf_imports_the_weights_it_holds_and_the_folder_generates_as_the_reference_does()
    {
        using var temp = new TempFolder();
        string file = temp.File("ggml-model-i2_s.gguf");
        var stored = BitNetGguf.Write(file, ImportChecks.Config, ImportChecks.Weights);

        var imported = CheckpointImporter.Read(file, new ImportOptions());
        Assert.Equal(CheckpointForm.Gguf, imported.Form);
        ImportChecks.SameSizes(ImportChecks.Config, imported.Config);
        ImportChecks.SameWeights(stored, imported.Weights);
        Assert.NotNull(imported.GeneratedTokenizer);

        // F16 rounded the embedding; the ternary weights and their β are exact.
        Assert.NotEqual(ImportChecks.Weights.Embedding, imported.Weights.Embedding);
        Assert.Equal(ImportChecks.Weights.Layers[1].Down.Beta, imported.Weights.Layers[1].Down.Beta);
        Assert.Equal(ImportChecks.Weights.Layers[1].Down.Packed, imported.Weights.Layers[1].Down.Packed);

        string folder = temp.File("imported");
        var report = CheckpointImporter.Import(file, folder, new ImportOptions());
        Assert.Equal(("bitnet.cpp GGUF", 1, new FileInfo(file).Length), (report.Form, report.InputFiles, report.InputBytes));
        Assert.Contains("GGUF vocabulary", report.Tokenizer, StringComparison.Ordinal);
        await ImportChecks.GeneratesLikeTheReference(folder, stored);
    }

    [Fact]
    public async Task An_i2s_gguf_imports_to_the_1_6_bit_layout_and_generates_as_the_reference_does()
    {
        // 2B4T's documented route is bitnet.cpp's GGUF: its I2_S weights repacked five to a byte, the same tokens.
        using var temp = new TempFolder();
        string file = temp.File("ggml-model-i2_s.gguf");
        var stored = BitNetGguf.Write(file, ImportChecks.Config, ImportChecks.Weights);
        string folder = temp.File("imported");
        var report = CheckpointImporter.Import(file, folder, new ImportOptions { TernaryLayout = Kernels.Ternary.TernaryLayout.FivePerByte });
        Assert.Equal("ternary (1.6-bit, five weights a byte)", report.ProjectionFormat);
        await ImportChecks.GeneratesLikeTheReference(folder, stored);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(30u)]
    public void F32_and_bf16_embeddings_import_as_stored(uint type)
    {
        using var temp = new TempFolder();
        var stored = BitNetGguf.Write(temp.File("m.gguf"), ImportChecks.Config, ImportChecks.Weights, new GgufOptions { EmbeddingType = type });
        ImportChecks.SameWeights(stored, CheckpointImporter.Read(temp.File("m.gguf"), new ImportOptions()).Weights);
        Assert.Equal(type == 0, stored.Embedding.SequenceEqual(ImportChecks.Weights.Embedding));
    }

    /// <summary>
    /// bitnet.cpp's BitNet converters do not permute q/k (their archs use llama.cpp's NEOX RoPE), so the importer takes
    /// the rows as stored and the round trip above generates exactly. This checks that the row order is not something
    /// the test could miss: had a converter applied llama.cpp's LLaMA permutation, the rows would arrive permuted and
    /// the logits would differ from the reference's.
    /// </summary>
    [Fact]
    public void Query_and_key_rows_are_taken_as_stored_and_their_order_matters()
    {
        using var temp = new TempFolder();
        var config = ImportChecks.Config;
        var source = ImportChecks.Weights;
        BitNetGguf.Write(temp.File("permuted.gguf"), config, source, new GgufOptions { PermuteQueryKey = true });
        var imported = CheckpointImporter.Read(temp.File("permuted.gguf"), new ImportOptions());

        var query = imported.Weights.Layers[0].Query;
        Assert.Equal(BitNetGguf.PermuteRows(source.Layers[0].Query, config.AttentionHeads).Packed, query.Packed);
        Assert.Equal(BitNetGguf.PermuteRows(source.Layers[0].Key, config.KvHeads).Packed, imported.Weights.Layers[0].Key.Packed);

        int[] prompt = [config.BosTokenId!.Value, 72, 101, 108, 108, 111];
        var right = new BitNetReference(config, source).Logits(prompt)[^1];
        var permuted = new BitNetReference(config, source with { Layers = imported.Weights.Layers }).Logits(prompt)[^1];
        Assert.True(right.Zip(permuted, (a, b) => MathF.Abs(a - b)).Max() > 1e-3f, "permuting q/k rows changed nothing");
    }

    [Fact]
    public void The_vocabulary_becomes_a_tokenizer_json_that_encodes_as_the_models_own_does()
    {
        using var temp = new TempFolder();
        (string, string)[] merges = [("H", "e"), ("l", "l"), ("He", "ll"), (" ", "w")];
        var config = ImportChecks.Config with { VocabSize = 256 + merges.Length + 3, BosTokenId = 260, EosTokenIds = [261, 262] };
        const string template = "{{ bos_token }}{% for m in messages %}{{ m['role'] + ': ' + m['content'] + '<|eot_id|>' }}{% endfor %}Assistant: ";
        BitNetGguf.Write(temp.File("m.gguf"), config, SeededBitNet.Weights(config), new GgufOptions { Merges = merges, ChatTemplate = template });
        CheckpointImporter.Import(temp.File("m.gguf"), temp.File("out"), new ImportOptions());

        ByteTokenizerJson.Write(temp.File("original.json"), merges, SeededBitNet.SpecialTokens);
        var original = ModelTokenizer.Load(temp.File("original.json"), config.VocabSize);
        var generated = ModelTokenizer.Load(Path.Combine(temp.File("out"), "tokenizer.json"), config.VocabSize);
        foreach (string text in new[] { "Hello world", "Hell's 123 héllo\n\n  x", "<|begin_of_text|>Hi<|eot_id|>" })
        {
            Assert.Equal(original.Encode(text), generated.Encode(text));
        }

        Assert.Contains(258, generated.Encode("Hello"));
        Assert.Equal(262, generated.TokenId("<|eot_id|>"));
        Assert.Contains(262, generated.SpecialIds);
        Assert.Equal("bitnet", Generation.Folder.LanguageModelFolder.Open(temp.File("out")).Config.ChatTemplate);
    }

    [Fact]
    public void A_given_tokenizer_replaces_the_gguf_vocabulary()
    {
        using var temp = new TempFolder();
        BitNetGguf.Write(temp.File("m.gguf"), ImportChecks.Config, ImportChecks.Weights, new GgufOptions { Pre = "qwen2" });
        Assert.Contains("tokenizer.ggml.pre is 'qwen2'", Assert.Throws<InvalidDataException>(() => CheckpointImporter.Read(temp.File("m.gguf"), new ImportOptions())).Message, StringComparison.Ordinal);

        ByteTokenizerJson.Write(temp.File("given.json"), [], SeededBitNet.SpecialTokens);
        var imported = CheckpointImporter.Read(temp.File("m.gguf"), new ImportOptions { TokenizerPath = temp.File("given.json") });
        Assert.Equal(temp.File("given.json"), imported.TokenizerPath);
        Assert.Null(imported.GeneratedTokenizer);
    }

    [Fact]
    public void An_output_head_equal_to_the_embedding_and_unit_rope_factors_are_accepted_and_others_refused()
    {
        using var temp = new TempFolder();
        var stored = BitNetGguf.Write(temp.File("same.gguf"), ImportChecks.Config, ImportChecks.Weights, new GgufOptions { OutputHead = true, RopeFactor = 1 });
        ImportChecks.SameWeights(stored, CheckpointImporter.Read(temp.File("same.gguf"), new ImportOptions()).Weights);

        BitNetGguf.Write(temp.File("head.gguf"), ImportChecks.Config, ImportChecks.Weights, new GgufOptions { OutputHead = true, OutputDiffers = true });
        Assert.Contains("output.weight, F16 (ggml type 1) {64, 259}) that differs from token_embd", Assert.Throws<InvalidDataException>(() => CheckpointImporter.Read(temp.File("head.gguf"), new ImportOptions())).Message, StringComparison.Ordinal);

        BitNetGguf.Write(temp.File("rope.gguf"), ImportChecks.Config, ImportChecks.Weights, new GgufOptions { RopeFactor = 8 });
        Assert.Contains("rope_freqs.weight scales RoPE's frequencies (factors 8 to 8)", Assert.Throws<InvalidDataException>(() => CheckpointImporter.Read(temp.File("rope.gguf"), new ImportOptions())).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void I2s_decodes_bitnet_cpp_block_layout()
    {
        // One row of 128: w[0] = +1, w[32] = -1, w[64] = 0, w[96] = +1, the rest 0. Byte 0 holds weights 0, 32, 64,
        // 96 at bits 6, 4, 2, 0: codes 2, 0, 1, 2 = 0b10_00_01_10; every other byte is four zeros (0b01010101).
        var data = new byte[(128 / 4) + 32];
        Array.Fill(data, (byte)0b01010101, 0, 32);
        data[0] = 0b10_00_01_10;
        BitConverter.TryWriteBytes(data.AsSpan(32), 0.75f);
        var matrix = I2sWeights.Decode("t", data, 1, 128);
        Assert.Equal(0.75f, matrix.Beta);
        var weights = Enumerable.Range(0, 128).Select(i => matrix.WeightAt(0, i)).ToArray();
        Assert.Equal((1, -1, 0, 1), (weights[0], weights[32], weights[64], weights[96]));
        Assert.Equal(3, weights.Sum(Math.Abs));
        Assert.Equal(BitNetGguf.EncodeI2s(matrix), data);
    }

    [Fact]
    public void Q8_0_holds_an_fp16_scale_and_32_rounded_int8_per_block_as_gguf_py_writes_it()
    {
        // d = max|x| / 127 = 0.5: 63.5 -> 127, -31.75 -> -63.5 -> -64 (halves away from zero), 0.25 -> 0.5 -> 1.
        var values = new float[64];
        (values[0], values[1], values[2], values[3]) = (63.5f, -31.75f, 0.25f, -0.25f);
        values[40] = -1;
        var rounded = BitNetGguf.EncodeQ8Zero(values, out byte[] bytes);
        Assert.Equal(2 * 34, bytes.Length);
        Assert.Equal((Half)0.5f, BitConverter.ToHalf(bytes, 0));
        Assert.Equal(new sbyte[] { 127, -64, 1, -1, 0 }, bytes[2..7].Select(b => (sbyte)b).ToArray());
        Assert.Equal((Half)(1f / 127), BitConverter.ToHalf(bytes, 34));
        Assert.Equal(-127, (sbyte)bytes[34 + 2 + 8]);
        Assert.Equal((63.5f, -32f, 0.5f), (rounded[0], rounded[1], rounded[2]));
        Assert.Equal(-127 * (float)(Half)(1f / 127), rounded[40]);
    }

    [Fact]
    public void The_peer_gguf_is_arch_bitnet_with_q8_0_embedding_and_a_vocabulary_filled_up_to_the_special_tokens()
    {
        using var temp = new TempFolder();
        var config = ImportChecks.Config with { VocabSize = 300, BosTokenId = 297, EosTokenIds = [298, 299] };
        var weights = SeededBitNet.Weights(config);
        var stored = BitNetGguf.Write(temp.File("peer.gguf"), config, weights, BitNetPeerGguf.Options(BitNetPeerGguf.EmbeddingType("q8_0")));

        using var gguf = GgufFile.Open(temp.File("peer.gguf"));
        Assert.Equal("bitnet", gguf.String("general.architecture"));
        Assert.Equal(config.HiddenSize, gguf.Integer("bitnet.embedding_length"));
        var tokens = gguf.Array<string>("tokenizer.ggml.tokens")!;
        var types = gguf.Array<long>("tokenizer.ggml.token_type")!;
        Assert.Equal(300, tokens.Length);
        Assert.Equal(("<|reserved_259|>", 1L), (tokens[259], types[259]));
        Assert.Equal(("<|begin_of_text|>", 3L), (tokens[297], types[297]));
        Assert.Equal(297, gguf.Integer("tokenizer.ggml.bos_token_id"));

        var embedding = gguf.Tensors["token_embd.weight"];
        Assert.Equal(8u, embedding.Type);
        long bytes = embedding.Elements / 32 * 34;
        BitNetGguf.EncodeQ8Zero(weights.Embedding, out byte[] expected);
        Assert.Equal(expected, embedding.Bytes(bytes).ToArray());
        Assert.True(stored.Embedding.Zip(weights.Embedding, (a, b) => MathF.Abs(a - b)).Max() < 0.02f);
        Assert.Equal(BitNetGguf.EncodeI2s(weights.Layers[1].Down), gguf.Tensors["blk.1.ffn_down.weight"].Bytes((config.HiddenSize * config.IntermediateSize / 4) + 32).ToArray());
    }

    [Fact]
    public void Hugging_face_unpacking_matches_the_example_in_transformers_unpack_weights()
    {
        // integrations/bitnet.py's docstring: packed [[0b10100001, 0b00011000], [0b10010000, 0b00001010]] unpacks to
        // [[0, -1], [-1, 1], [-1, 1], [-1, 1], [1, 0], [0, -1], [1, -1], [1, -1]].
        byte[] packed = [0b10100001, 0b00011000, 0b10010000, 0b00001010];
        var matrix = HfTernary.Unpack("t", packed, 8, 2, 1f);
        int[][] expected = [[0, -1], [-1, 1], [-1, 1], [-1, 1], [1, 0], [0, -1], [1, -1], [1, -1]];
        for (int r = 0; r < 8; r++)
        {
            Assert.Equal(expected[r], new[] { matrix.WeightAt(r, 0), matrix.WeightAt(r, 1) });
        }

        Assert.Equal(packed, HfBitNetCheckpoint.Pack(matrix));
    }
}
