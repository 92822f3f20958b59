using EdgeRuntime.Generation.Decoding;
using EdgeRuntime.Generation.Folder;
using EdgeRuntime.TestModels.Language;
using Xunit.Abstractions;

namespace EdgeRuntime.Generation.Tests.Engine;

/// <summary>
/// The deltaAttention option on both families: at threshold 0 it is the dense result (GroupQueryAttention's logits
/// over a chunked prefill and each decoded token); above 0 it skips multiply-adds and the logits move away from dense,
/// but less the smaller the threshold.
/// </summary>
public sealed class DeltaAttentionTests(ITestOutputHelper output)
{
    private static readonly long[] Prompt = [.. Enumerable.Range(0, 40).Select(i => (long)(((i * 53) + 7) % 256))];

    public static TheoryData<string> Families => ["bitnet", "lfm2"];

    [Theory]
    [MemberData(nameof(Families))]
    public void Threshold_0_gives_the_dense_logits_and_larger_thresholds_skip_work(string family)
    {
        using var temp = new TempFolder();
        Write(temp.File("dense"), family, delta: null);
        Write(temp.File("zero"), family, new DeltaAttentionSettings { Window = 8, Threshold = 0 });
        Write(temp.File("sparse"), family, new DeltaAttentionSettings { Window = 8, Threshold = 0.5 });
        using var dense = Load(temp.File("dense"));
        using var zero = Load(temp.File("zero"));
        using var sparse = Load(temp.File("sparse"));

        double worstZero = 0, worstSparse = 0;
        foreach (var (step, length) in Steps())
        {
            var want = dense.Step(step, 1, step.Length, [length], 0).ToArray();
            float scale = want.Max(MathF.Abs);
            worstZero = Math.Max(worstZero, Worst(want, zero.Step(step, 1, step.Length, [length], 0)) / scale);
            worstSparse = Math.Max(worstSparse, Worst(want, sparse.Step(step, 1, step.Length, [length], 0)) / scale);
        }

        var (skipped, total) = sparse.State.Delta!.Counts();
        var (zeroSkipped, zeroTotal) = zero.State.Delta!.Counts();
        output.WriteLine($"{family}: threshold 0 within {worstZero:e1} of dense; threshold 0.5 within {worstSparse:e1}, {100.0 * skipped / total:0.0}% of q·k skipped ({zeroSkipped} at threshold 0)");
        Assert.True(worstZero < 1e-4, $"threshold 0 differs from dense by {worstZero:e2} of the logit range");
        Assert.Equal(0, zeroSkipped);
        Assert.True(zeroTotal > 0);
        Assert.True(skipped > 0 && skipped < total, $"{skipped} of {total} skipped");
        Assert.True(worstSparse > worstZero, "a threshold that skips work changes the logits");
    }

    /// <summary>The prompt in chunks of 16, 16 and 8 (prefill), then 24 tokens one at a time (decode: 32 of 64 positions old).</summary>
    private static IEnumerable<(long[] Step, int Length)> Steps()
    {
        int length = 0;
        foreach (var chunk in Prompt.Chunk(16))
        {
            length += chunk.Length;
            yield return (chunk, length);
        }

        for (int i = 0; i < 24; i++)
        {
            yield return ([(long)((i * 31) + 5) % 256], ++length);
        }
    }

    private static void Write(string folder, string family, DeltaAttentionSettings? delta)
    {
        if (family == "bitnet")
        {
            var config = SeededBitNet.Tiny(contextLength: 96) with { DeltaAttention = delta };
            SeededBitNet.WriteFolder(folder, config);
        }
        else
        {
            var config = SeededLfm2.Tiny(contextLength: 96) with { DeltaAttention = delta };
            SeededLfm2.WriteFolder(folder, config);
        }
    }

    private static DecoderModel Load(string folder) =>
        DecoderModel.Load(LanguageModelFolder.Open(folder), new DecoderOptions { Slots = 1, IntraOpThreads = 1 });

    private static double Worst(float[] expected, ReadOnlySpan<float> actual)
    {
        double worst = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            worst = Math.Max(worst, Math.Abs(expected[i] - actual[i]));
        }

        return worst;
    }
}
