using EdgeRuntime.Generation.Decoding;
using EdgeRuntime.Generation.Families.Lfm2;
using EdgeRuntime.Generation.Folder;
using EdgeRuntime.Protocol;
using EdgeRuntime.TestModels.Language;

namespace EdgeRuntime.Generation.Tests.Lfm2;

/// <summary>
/// The static-shape NPU export (a fixed prefill chunk graph and a one-token decode graph over a fixed cache), run on the
/// CPU provider behind the engine's step: in float32 it must compute what the dynamic graph computes, however the tokens
/// arrive (padded chunks, single tokens, a slot reused), and a session longer than its graphs hold is refused by name.
/// </summary>
public sealed class StaticExportTests
{
    private const int Chunk = 16;
    private const int Capacity = 64;

    private static readonly long[] Prompt = [.. Enumerable.Range(0, 37).Select(i => (long)((i * 37) + 11) % 256)];

    [Fact]
    public void The_static_graphs_give_the_dynamic_graphs_logits_for_a_padded_prefill_and_each_decoded_token()
    {
        using var temp = new TempFolder();
        // Float32 embeddings: the static export's head is a projection over the float table, the dynamic graph's an int8 one otherwise.
        var config = SeededLfm2.Tiny(contextLength: Capacity) with { EmbeddingFormat = EmbeddingFormats.Float32 };
        var weights = SeededLfm2.Weights(config, seed: 3);
        SeededLfm2.WriteFolder(temp.File("dynamic"), config, weights);
        SeededLfm2.WriteFolder(temp.File("static"), Static(config), weights);
        using var dynamic = Load(temp.File("dynamic"));
        using var fixedShapes = Load(temp.File("static"));

        // 37 tokens: chunks of 16, 16 and 5 (11 of padding), then eight tokens one at a time.
        AssertClose(dynamic.Step(Prompt, 1, Prompt.Length, [Prompt.Length], 0).ToArray(), fixedShapes.Step(Prompt, 1, Prompt.Length, [Prompt.Length], 0).ToArray(), "after the prompt");
        for (int i = 0; i < 8; i++)
        {
            long token = 40 + i;
            int length = Prompt.Length + i + 1;
            AssertClose(dynamic.Step([token], 1, 1, [length], 0).ToArray(), fixedShapes.Step([token], 1, 1, [length], 0).ToArray(), $"decoded token {i}");
        }
    }

    [Fact]
    public void A_slot_reused_by_a_shorter_session_sees_nothing_of_the_longer_one()
    {
        using var temp = new TempFolder();
        var config = Static(SeededLfm2.Tiny(contextLength: Capacity));
        SeededLfm2.WriteFolder(temp.Path, config);
        using var model = Load(temp.Path);
        long[] shorter = [256, 72, 105];
        var fresh = model.Step(shorter, 1, shorter.Length, [shorter.Length], 0).ToArray();
        model.Step(Prompt, 1, Prompt.Length, [Prompt.Length], 0);
        var reused = model.Step(shorter, 1, shorter.Length, [shorter.Length], 0).ToArray();
        AssertClose(fresh, reused, "the slot's second session");
    }

    [Fact]
    public void A_session_longer_than_the_graphs_hold_is_refused_naming_the_static_capacity()
    {
        using var temp = new TempFolder();
        SeededLfm2.WriteFolder(temp.Path, Static(SeededLfm2.Tiny(contextLength: Capacity)) with { Static = new StaticShapes { PrefillChunk = Chunk, Capacity = 32 } });
        using var model = Load(temp.Path);
        Assert.Equal(32, model.Capacity);
        var error = Assert.Throws<EdgeRuntimeException>(() => model.Step(Prompt, 1, Prompt.Length, [Prompt.Length], 0));
        Assert.Equal(ErrorCodes.ContextOverflow, error.Code);
        Assert.Contains("static.capacity", error.Message, StringComparison.Ordinal);
        Assert.Contains("32", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, 64, "prefillChunk")]
    [InlineData(16, 8, "prefillChunk")]
    [InlineData(16, 128, "contextLength")]
    public void A_static_section_that_cannot_hold_is_refused_at_open(int chunk, int capacity, string named)
    {
        using var temp = new TempFolder();
        var config = Static(SeededLfm2.Tiny(contextLength: Capacity));
        SeededLfm2.WriteFolder(temp.Path, config);
        string path = Path.Combine(temp.Path, LanguageModelFolder.ConfigFile);
        var written = System.Text.Json.JsonSerializer.Deserialize(File.ReadAllText(path), GenerationJsonContext.Default.LanguageModelConfig)!;
        File.WriteAllText(path, System.Text.Json.JsonSerializer.Serialize(written with { Static = new StaticShapes { PrefillChunk = chunk, Capacity = capacity } }, GenerationJsonContext.Default.LanguageModelConfig));
        var error = Assert.Throws<EdgeRuntimeException>(() => LanguageModelFolder.Open(temp.Path));
        Assert.Equal(ErrorCodes.ModelInvalid, error.Code);
        Assert.Contains(named, error.Message, StringComparison.Ordinal);
    }

    internal static LanguageModelConfig Static(LanguageModelConfig config) =>
        config with { Static = new StaticShapes { PrefillChunk = Chunk, Capacity = Capacity } };

    private static DecoderModel Load(string folder) =>
        DecoderModel.Load(LanguageModelFolder.Open(folder), new DecoderOptions { Slots = 1, IntraOpThreads = 1 });

    private static void AssertClose(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        float scale = expected.Max(MathF.Abs);
        float worst = expected.Zip(actual, (a, b) => MathF.Abs(a - b)).Max();
        Assert.True(worst <= 1e-4f * scale, $"{what}: logits differ by {worst} (largest {scale})");
    }
}
