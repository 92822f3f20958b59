using EdgeRuntime.Generation.Decoding;
using EdgeRuntime.Generation.Folder;
using EdgeRuntime.TestModels.Language;

namespace EdgeRuntime.Generation.Tests.Lfm2;

/// <summary>
/// The hybrid decoder's state handling on a seeded LFM2 model (conv, conv, attention, conv): whatever way the tokens
/// arrive (all at once, in chunks, one at a time, batched with another session, after a slot move, in a slot another
/// session used before), the logits are the same. The arithmetic itself is checked against the PyTorch reference
/// (<see cref="Lfm2TorchReferenceTests"/>).
/// </summary>
public sealed class HybridDecoderTests
{
    private static readonly long[] Prompt = [256, 72, 101, 108, 108, 111, 44, 32, 119, 111, 114, 108, 100, 33];

    [Fact]
    public void Prefill_in_chunks_and_token_by_token_give_the_logits_of_one_prefill()
    {
        using var folder = new TempFolder();
        SeededLfm2.WriteFolder(folder.Path, SeededLfm2.Tiny());
        using var model = Load(folder.Path, slots: 1);
        var whole = model.Step(Prompt, 1, Prompt.Length, [Prompt.Length], 0).ToArray();

        // Chunks of 5, 5 and 4: the conv state carries two columns across each boundary.
        float[] chunked = [];
        int length = 0;
        foreach (var chunk in Prompt.Chunk(5))
        {
            length += chunk.Length;
            chunked = model.Step(chunk, 1, chunk.Length, [length], 0).ToArray();
        }

        AssertClose(whole, chunked, "chunks of 5");

        float[] single = [];
        for (int i = 0; i < Prompt.Length; i++)
        {
            single = model.Step([Prompt[i]], 1, 1, [i + 1], 0).ToArray();
        }

        AssertClose(whole, single, "one token a step");
    }

    [Fact]
    public void Two_sessions_decoded_in_one_batch_match_each_decoded_alone()
    {
        using var folder = new TempFolder();
        SeededLfm2.WriteFolder(folder.Path, SeededLfm2.Tiny());
        long[] other = [256, 84, 104, 101, 32, 101, 110, 100];
        using var model = Load(folder.Path, slots: 2);

        // Alone: each prompt then three tokens, in slot 0.
        var aloneA = Continue(model, Prompt, [65, 66, 67]);
        var aloneB = Continue(model, other, [97, 98, 99]);

        // Together: prompts prefilled in slots 0 and 1, then the three steps as batches of two.
        model.Step(Prompt, 1, Prompt.Length, [Prompt.Length], 0);
        model.Step(other, 1, other.Length, [other.Length], 1);
        long[][] next = [[65, 66, 67], [97, 98, 99]];
        float[] batch = [];
        for (int step = 0; step < 3; step++)
        {
            batch = model.Step([next[0][step], next[1][step]], 2, 1, [Prompt.Length + step + 1, other.Length + step + 1], 0).ToArray();
        }

        int vocab = model.Config.VocabSize;
        AssertClose(aloneA, batch[..vocab], "session A in the batch");
        AssertClose(aloneB, batch[vocab..], "session B in the batch");
    }

    [Fact]
    public void A_session_moved_to_another_slot_continues_as_if_it_had_not_moved()
    {
        using var folder = new TempFolder();
        SeededLfm2.WriteFolder(folder.Path, SeededLfm2.Tiny());
        using var model = Load(folder.Path, slots: 3);
        var expected = Continue(model, Prompt, [70, 71]);

        model.Step(Prompt, 1, Prompt.Length, [Prompt.Length], 2);
        model.Step([70], 1, 1, [Prompt.Length + 1], 2);
        model.State.MoveSlot(2, 0, Prompt.Length + 1);
        var moved = model.Step([71], 1, 1, [Prompt.Length + 2], 0).ToArray();
        AssertClose(expected, moved, "after the move");
    }

    [Fact]
    public void A_new_session_in_a_used_slot_starts_from_a_clear_conv_state()
    {
        using var folder = new TempFolder();
        SeededLfm2.WriteFolder(folder.Path, SeededLfm2.Tiny());
        using var fresh = Load(folder.Path, slots: 1);
        var expected = fresh.Step(Prompt, 1, Prompt.Length, [Prompt.Length], 0).ToArray();

        using var used = Load(folder.Path, slots: 1);
        used.Step([256, 1, 2, 3, 4, 5, 6], 1, 7, [7], 0);
        var actual = used.Step(Prompt, 1, Prompt.Length, [Prompt.Length], 0).ToArray();
        AssertClose(expected, actual, "the slot's second session");
    }

    [Fact]
    public void Only_attention_layers_hold_a_kv_cache_and_conv_layers_a_fixed_state()
    {
        using var folder = new TempFolder();
        var config = SeededLfm2.WriteFolder(folder.Path, SeededLfm2.Tiny(contextLength: 64));
        using var model = Load(folder.Path, slots: 1);

        // One attention layer of 2 KV heads × 16 × 64 positions × (key + value), three conv layers of 64 channels × 2 columns.
        Assert.Equal(1L * 2 * 16 * 64 * 2 * sizeof(float), model.State.Kv.Bytes);
        Assert.Equal(3L * 64 * 2 * sizeof(float), model.State.Conv.Bytes);
        Assert.Equal(model.State.Kv.Bytes + model.State.Conv.Bytes, model.State.BytesPerSession);
        Assert.Equal(DecoderState.BytesPerSessionFor(config, 64), model.State.BytesPerSession);
    }

    private static DecoderModel Load(string folder, int slots) =>
        DecoderModel.Load(LanguageModelFolder.Open(folder), new DecoderOptions { Slots = slots, IntraOpThreads = 1 });

    /// <summary>The prompt prefilled in slot 0, then <paramref name="tokens"/> one at a time; the last step's logits.</summary>
    private static float[] Continue(DecoderModel model, long[] prompt, long[] tokens)
    {
        var logits = model.Step(prompt, 1, prompt.Length, [prompt.Length], 0).ToArray();
        for (int i = 0; i < tokens.Length; i++)
        {
            logits = model.Step([tokens[i]], 1, 1, [prompt.Length + i + 1], 0).ToArray();
        }

        return logits;
    }

    private static void AssertClose(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        float scale = expected.Max(MathF.Abs);
        float worst = expected.Zip(actual, (a, b) => MathF.Abs(a - b)).Max();
        Assert.True(worst <= 1e-4f * scale, $"{what}: logits differ by {worst} (largest {scale})");
    }
}
