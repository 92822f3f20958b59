using EdgeRuntime.Generation.Decoding;
using EdgeRuntime.Generation.Folder;
using EdgeRuntime.TestModels.Language;

namespace EdgeRuntime.Generation.Tests.BitNet;

public sealed class DecoderGraphTests
{
    [Fact]
    public void Chunked_prefill_then_decode_matches_the_plain_reference_at_every_position()
    {
        using var folder = new TempFolder();
        var config = SeededBitNet.WriteFolder(folder.Path, SeededBitNet.Tiny());
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
