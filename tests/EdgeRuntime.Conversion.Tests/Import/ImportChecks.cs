using EdgeRuntime.Generation.Engine;
using EdgeRuntime.Generation.Families.BitNet;
using EdgeRuntime.Generation.Folder;
using EdgeRuntime.Protocol;
using EdgeRuntime.TestModels.Language;

namespace EdgeRuntime.Conversion.Tests.Import;

/// <summary>What every import test checks: the weights came through unchanged, and the folder generates what the reference does.</summary>
internal static class ImportChecks
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    /// <summary>A small model: the tiny seeded BitNet's shapes with a short context.</summary>
    public static LanguageModelConfig Config => SeededBitNet.Tiny(contextLength: 64);

    public static BitNetWeights Weights => SeededBitNet.Weights(Config, seed: 11);

    public static void SameWeights(BitNetWeights expected, BitNetWeights actual)
    {
        Assert.Equal(expected.Embedding, actual.Embedding);
        Assert.Equal(expected.FinalNorm, actual.FinalNorm);
        Assert.Equal(expected.Layers.Length, actual.Layers.Length);
        for (int l = 0; l < expected.Layers.Length; l++)
        {
            var (e, a) = (expected.Layers[l], actual.Layers[l]);
            Assert.Equal(e.AttentionNorm, a.AttentionNorm);
            Assert.Equal(e.AttentionSubNorm, a.AttentionSubNorm);
            Assert.Equal(e.FeedForwardNorm, a.FeedForwardNorm);
            Assert.Equal(e.FeedForwardSubNorm, a.FeedForwardSubNorm);
            foreach (var (name, want, got) in new[] { ("q", e.Query, a.Query), ("k", e.Key, a.Key), ("v", e.Value, a.Value), ("o", e.Output, a.Output), ("gate", e.Gate, a.Gate), ("up", e.Up, a.Up), ("down", e.Down, a.Down) })
            {
                Assert.True((want.Rows, want.Columns) == (got.Rows, got.Columns), $"layer {l} {name}: [{got.Rows}, {got.Columns}], expected [{want.Rows}, {want.Columns}]");
                Assert.True(want.Packed.AsSpan().SequenceEqual(got.Packed), $"layer {l} {name}: the ternary weights differ");
                Assert.True(want.Beta == got.Beta, $"layer {l} {name}: β is {got.Beta}, expected {want.Beta}");
            }
        }
    }

    /// <summary>The sizes an import must reproduce; ε and θ are compared as numbers (a GGUF stores them as float32).</summary>
    public static void SameSizes(LanguageModelConfig expected, LanguageModelConfig actual)
    {
        Assert.Equal(
            (expected.VocabSize, expected.HiddenSize, expected.IntermediateSize, expected.Layers, expected.AttentionHeads, expected.KvHeads, expected.HeadDim, expected.ContextLength, expected.BosTokenId),
            (actual.VocabSize, actual.HiddenSize, actual.IntermediateSize, actual.Layers, actual.AttentionHeads, actual.KvHeads, actual.HeadDim, actual.ContextLength, actual.BosTokenId));
        Assert.Equal(expected.EosTokenIds, actual.EosTokenIds);
        Assert.Equal(expected.RopeTheta, actual.RopeTheta);
        Assert.Equal(expected.RmsNormEps, actual.RmsNormEps);
        Assert.Equal(BitNetFolderWriter.Family, actual.Family);
    }

    /// <summary>
    /// Loads the imported folder in the engine, generates greedily from "Hello", and checks every token against the
    /// plain reference run over the weights as the checkpoint stored them.
    /// </summary>
    public static async Task GeneratesLikeTheReference(string folder, BitNetWeights stored)
    {
        using var model = LanguageModel.Load("imported", folder, new GenerationOptions { IntraOpThreads = 1 });
        var config = model.Config;
        var run = model.Start(new GenerateRequest("imported") { Prompt = "Hello", MaxTokens = 12 });
        var produced = new List<int>();
        using (var timeout = new CancellationTokenSource(Timeout))
        {
            await foreach (var token in run.Tokens.ReadAllAsync(timeout.Token))
            {
                produced.Add(token.Id);
            }
        }

        int[] prompt = [config.BosTokenId!.Value, .. "Hello"u8.ToArray().Select(b => (int)b)];
        var expected = new BitNetReference(config, stored).Greedy(prompt, 12);
        Assert.Equal(expected.TakeWhile(t => !config.EosTokenIds.Contains(t)), produced);
        Assert.NotEmpty(produced);
    }
}
