using EdgeRuntime.Generation.Decoding;
using EdgeRuntime.Generation.Folder;
using EdgeRuntime.TestModels.Language;

namespace EdgeRuntime.Generation.Tests.BitNet;

public sealed class DecoderGraphTests
{
    [Theory]
    [InlineData(EmbeddingFormats.Int8)]
    [InlineData(EmbeddingFormats.Float32)]
    public void Chunked_prefill_then_decode_matches_the_plain_reference_at_every_position(string embedding)
    {
        using var folder = new TempFolder();
        var config = SeededBitNet.WriteFolder(folder.Path, SeededBitNet.Tiny() with { EmbeddingFormat = embedding });
        var reference = new BitNetReference(config, SeededBitNet.Weights(config));
        int[] prompt = [256, 72, 101, 108, 108, 111, 44, 32, 119, 111, 114, 108, 100];
        using var model = DecoderModel.Load(LanguageModelFolder.Open(folder.Path), new DecoderOptions { Slots = 1, IntraOpThreads = 1 });

        var tokens = new List<int>();
        var produced = new List<float[]>();

        // Prefill in chunks of 5, 5 and 3: each chunk's logits are those after its last token.
        foreach (var chunk in prompt.Chunk(5))
        {
            tokens.AddRange(chunk);
            produced.Add(model.Step(chunk.Select(t => (long)t).ToArray(), 1, chunk.Length, [tokens.Count], 0).ToArray());
        }

        // Then 16 greedy steps of one token each.
        for (int step = 0; step < 16; step++)
        {
            int next = ArgMax(produced[^1]);
            tokens.Add(next);
            produced.Add(model.Step([next], 1, 1, [tokens.Count], 0).ToArray());
        }

        var expected = reference.Logits(tokens);
        int[] positions = [4, 9, 12, .. Enumerable.Range(13, 16)];
        for (int i = 0; i < positions.Length; i++)
        {
            var want = expected[positions[i]];
            var got = produced[i];
            float scale = want.Max(MathF.Abs);
            float worst = want.Zip(got, (a, b) => MathF.Abs(a - b)).Max();
            Assert.True(worst <= 2e-3f * scale, $"position {positions[i]}: logits differ by {worst} (scale {scale})");
            Assert.Equal(ArgMax(want), ArgMax(got));
        }
    }

    [Fact]
    public void An_int8_embedding_takes_a_quarter_of_the_table_bytes_and_the_head_runs_on_Int8RowLinear()
    {
        using var int8 = new TempFolder();
        using var float32 = new TempFolder();
        var small = SeededBitNet.WriteFolder(int8.Path, SeededBitNet.Tiny());
        var full = SeededBitNet.WriteFolder(float32.Path, SeededBitNet.Tiny() with { EmbeddingFormat = EmbeddingFormats.Float32 });
        long table = (long)small.VocabSize * small.HiddenSize;

        // float32: 4 bytes a weight; int8: 1 byte a weight and a float scale a row (each tensor 64-byte aligned).
        Assert.InRange(full.WeightsBytes - small.WeightsBytes, (3 * table) - (small.VocabSize * 4) - 128, (3 * table) - (small.VocabSize * 4) + 128);
        var nodes = EdgeRuntime.Onnx.OnnxModelSummary.Read(File.ReadAllBytes(Path.Combine(int8.Path, small.Graph))).Nodes;
        Assert.Contains(nodes, n => n.OpType == "Int8RowLinear" && n.Domain == "ai.edgeruntime");
        Assert.DoesNotContain(nodes, n => n.OpType == "Gemm");
    }

    [Fact]
    public void An_unknown_embedding_format_is_refused_at_load_by_name()
    {
        using var folder = new TempFolder();
        SeededBitNet.WriteFolder(folder.Path, SeededBitNet.Tiny());
        string configPath = Path.Combine(folder.Path, LanguageModelFolder.ConfigFile);
        File.WriteAllText(configPath, File.ReadAllText(configPath).Replace("\"embeddingFormat\": \"int8\"", "\"embeddingFormat\": \"int4\"", StringComparison.Ordinal));
        var error = Assert.Throws<EdgeRuntime.Protocol.EdgeRuntimeException>(() => LanguageModelFolder.Open(folder.Path));
        Assert.Equal(EdgeRuntime.Protocol.ErrorCodes.ModelInvalid, error.Code);
        Assert.Contains("embeddingFormat is \"int4\"", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("../outside-tokenizer.json")]
    [InlineData("/etc/passwd")]
    [InlineData("escape.json")]
    public void A_folder_whose_config_names_a_file_outside_it_is_refused(string tokenizer)
    {
        using var parent = new TempFolder();
        string folder = Path.Combine(parent.Path, "model");
        var config = SeededBitNet.WriteFolder(folder, SeededBitNet.Tiny());
        File.Copy(Path.Combine(folder, config.Tokenizer), Path.Combine(parent.Path, "outside-tokenizer.json"));
        File.CreateSymbolicLink(Path.Combine(folder, "escape.json"), Path.Combine(parent.Path, "outside-tokenizer.json"));
        string configPath = Path.Combine(folder, LanguageModelFolder.ConfigFile);
        File.WriteAllText(configPath, File.ReadAllText(configPath).Replace($"\"tokenizer\": \"{config.Tokenizer}\"", $"\"tokenizer\": \"{tokenizer}\"", StringComparison.Ordinal));
        Assert.Contains(tokenizer, File.ReadAllText(configPath), StringComparison.Ordinal);

        var error = Assert.Throws<EdgeRuntime.Protocol.EdgeRuntimeException>(() => LanguageModelFolder.Open(folder));
        Assert.Equal(EdgeRuntime.Protocol.ErrorCodes.ModelInvalid, error.Code);
        Assert.Contains("lies outside the folder", error.Message, StringComparison.Ordinal);
    }

    private static int ArgMax(float[] values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
        {
            if (values[i] > values[best])
            {
                best = i;
            }
        }

        return best;
    }
}
