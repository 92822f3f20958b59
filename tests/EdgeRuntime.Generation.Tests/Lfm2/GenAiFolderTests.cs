using EdgeRuntime.Generation.Decoding;
using EdgeRuntime.Generation.Evaluation;
using EdgeRuntime.Generation.Families.Lfm2;
using EdgeRuntime.Generation.Folder;
using EdgeRuntime.TestModels.Language;

namespace EdgeRuntime.Generation.Tests.Lfm2;

/// <summary>
/// A folder in ONNX Runtime GenAI's layout (genai_config.json, model.onnx + model.onnx.data, GenAI's input and output
/// names, an attention mask instead of sequence lengths) loaded and run by our engine unchanged.
/// </summary>
public sealed class GenAiFolderTests
{
    private static readonly long[] Prompt = [256, 72, 101, 108, 108, 111, 44, 32, 119, 111, 114, 108, 100, 33];

    private static LanguageModelConfig Config => SeededLfm2.Tiny(contextLength: 64) with { ProjectionFormat = ProjectionFormats.Int4, ProjectionBlockSize = 32 };

    [Fact]
    public void A_genai_folder_opens_with_genai_names_and_the_configs_sizes()
    {
        using var temp = new TempFolder();
        Write(temp.Path);
        var folder = LanguageModelFolder.Open(temp.Path);
        Assert.True(folder.Io.IsGenAi);
        Assert.Equal(("lfm2", 4, 3, "model.onnx.data"), (folder.Config.Family, folder.Config.Layers, folder.Config.ConvKernel, folder.Config.Weights));
        Assert.Equal(Config.LayerTypes, folder.Config.LayerTypes);
        Assert.True(LanguageModelFolder.IsLanguageModelPath(temp.Path));
    }

    [Fact]
    public void Chunks_single_tokens_and_a_batch_with_another_session_give_the_same_logits()
    {
        using var temp = new TempFolder();
        Write(temp.Path);
        using var model = DecoderModel.Load(LanguageModelFolder.Open(temp.Path), new DecoderOptions { Slots = 2, IntraOpThreads = 1 });
        var whole = model.Step(Prompt, 1, Prompt.Length, [Prompt.Length], 0).ToArray();

        float[] chunked = [];
        int length = 0;
        foreach (var chunk in Prompt.Chunk(4))
        {
            length += chunk.Length;
            chunked = model.Step(chunk, 1, chunk.Length, [length], 0).ToArray();
        }

        AssertClose(whole, chunked, "chunks of 4");

        // Two sessions of different lengths in one step: the mask's rows differ, so each sequence sees only its own positions.
        long[] other = [256, 84, 104, 101];
        model.Step(Prompt, 1, Prompt.Length, [Prompt.Length], 0);
        model.Step(other, 1, other.Length, [other.Length], 1);
        var batch = model.Step([65, 97], 2, 1, [Prompt.Length + 1, other.Length + 1], 0).ToArray();

        var aloneA = Continue(model, Prompt, 65);
        var aloneB = Continue(model, other, 97);
        int vocab = model.Config.VocabSize;
        AssertClose(aloneA, batch[..vocab], "session A in the batch");
        AssertClose(aloneB, batch[vocab..], "session B in the batch");
    }

    [Fact]
    public void The_genai_folder_computes_what_our_folder_of_the_same_weights_does_up_to_its_int4_head()
    {
        using var temp = new TempFolder();
        var weights = Write(temp.File("genai"));

        // Ours with the embedding as float32; the GenAI folder's head is int4 (as the builder writes it), ours reads the table.
        SeededLfm2.WriteFolder(temp.File("ours"), Config with { EmbeddingFormat = EmbeddingFormats.Float32 }, weights);
        var comparison = LogitsComparison.Run(temp.File("ours"), temp.File("genai"), positions: 48);

        // Measured 22.6 dB, about what the int4 head alone costs (its weights' SQNR is 21 to 23 dB), and the same most
        // likely token at 48 of 48 positions; a wrong mask, name or layer would leave nothing in common (0 dB or less).
        Assert.True(comparison.SqnrDb > 17, $"{comparison.SqnrDb:0.0} dB");
        Assert.True(comparison.SameArgMax >= 40, $"same most likely token at {comparison.SameArgMax} of 48");
    }

    private static Lfm2Weights Write(string folder)
    {
        Directory.CreateDirectory(folder);
        var weights = SeededLfm2.Weights(Config, seed: 7);
        string tokenizer = Path.Combine(folder, "source-tokenizer.json");
        ByteTokenizerJson.Write(tokenizer, [], SeededBitNet.SpecialTokens);
        GenAiFolderWriter.Write(folder, Config, weights, tokenizer);
        File.Delete(tokenizer);
        return weights;
    }

    private static float[] Continue(DecoderModel model, long[] prompt, long token)
    {
        model.Step(prompt, 1, prompt.Length, [prompt.Length], 0);
        return model.Step([token], 1, 1, [prompt.Length + 1], 0).ToArray();
    }

    private static void AssertClose(float[] expected, float[] actual, string what)
    {
        float scale = expected.Max(MathF.Abs);
        float worst = expected.Zip(actual, (a, b) => MathF.Abs(a - b)).Max();
        Assert.True(worst <= 1e-4f * scale, $"{what}: logits differ by {worst} (largest {scale})");
    }
}
