using System.Text.Json;
using EdgeRuntime.Conversion.Import;
using EdgeRuntime.Generation.Decoding;
using EdgeRuntime.Generation.Folder;
using EdgeRuntime.TestModels.Language;
using EdgeRuntime.TestModels.Language.Checkpoints;
using Xunit.Abstractions;

namespace EdgeRuntime.Generation.Tests.BitNet;

/// <summary>
/// Our importer and engine against tools/bitnet/reference.py (PyTorch, float64, written from the BitNet b1.58 paper
/// and model card, reading the Hugging Face checkpoint itself) on the same seeded checkpoints: 64 greedy tokens, every
/// step's logits compared.
/// </summary>
/// <remarks>
/// Why one tolerance is not enough: BitLinear rounds x·127/max|x| to an integer, and where that lands on k + ½ (an exact
/// tie) or within float32 reach of it, the engine (float32, its own summation order) and the reference (float64) may
/// round to neighbouring integers. One such flip moves the logits of every later step by 0.3 % to 2 % of their spread,
/// which is as much as one wrong ternary weight or a misread embedding does. So each run is either exact (float32
/// precision at every step, all ids equal) or explained by a flip (within <see cref="LooseTolerance"/>, starting at a
/// step where the reference itself came within <see cref="TieReach"/> of a tie), and at least one of the three runs
/// must be exact: a real difference shows in every run, a flip in the run that meets the tie.
/// </remarks>
public sealed class TorchReferenceTests(ITestOutputHelper output)
{
    private const int Steps = 64;

    /// <summary>
    /// Exact: the largest |Δlogit| at a step as a fraction of that step's spread (max − min of the reference's logits).
    /// Measured without a flip: 0.97e-7 to 1.8e-7 (float32 rounding) in 31 runs of seeds 1 to 24, both embedding
    /// formats. Real differences, measured with these seeds: one ternary weight moved by one step in the checkpoint the
    /// reference reads gives 1.2e-4 to 2e-2 (layer 0's q, layer 2's up, layer 3's o and down projections), reading the
    /// float32 embedding as int8 1.3e-2 to 2.2e-2; a wrong RoPE pairing, β or norm far more.
    /// </summary>
    private const double TightTolerance = 1e-5;

    /// <summary>
    /// A run with a flip: measured 0.83e-2 to 2.1e-2 of the spread with the float32 embedding (12 of 24 seeds flipped,
    /// all at exact ties; in 3 the ids then parted, from steps 5, 29 and 59) and 0.29e-2 to 0.83e-2 with the int8 one
    /// (5 of 24). 5e-2 is twice the largest.
    /// </summary>
    private const double LooseTolerance = 5e-2;

    /// <summary>
    /// How close to k + ½ an activation must come for a flip: the flips measured started at 0 (exact ties, float32
    /// embedding) or 0.85e-6 to 5.6e-6 (int8 embedding: float32 error in later layers). 1e-4 is 18 times the largest.
    /// </summary>
    private const double TieReach = 1e-4;

    /// <summary>
    /// Three seeds that were exact with both embedding formats when chosen (of seeds 1 to 24: 12 with the float32
    /// embedding, 19 with the int8 one, checked by writing the int8 table E' = q·scale into the folder). Which run meets
    /// a tie is fixed by the weights and both implementations' arithmetic; a change to either that adds a flip to one
    /// run leaves the other two exact.
    /// </summary>
    private static readonly int[] Seeds = [22, 1, 21];

    /// <summary>
    /// Four layers, grouped-query attention (4 query heads on 2 key-value heads), the byte tokenizer's 259 tokens, and
    /// room for the prompt and the 64 decoded tokens. RoPE θ and ε differ from SeededBitNet's (2B4T's) values so that
    /// an importer or reference that hard-codes either is caught.
    /// </summary>
    private static LanguageModelConfig Config => SeededBitNet.Config(vocab: 259, hidden: 64, intermediate: 176, layers: 4, heads: 4, kvHeads: 2, headDim: 16, contextLength: 96)
        with { RopeTheta = 10000, RmsNormEps = 1e-6 };

    [TorchReferenceFact]
    public void An_imported_checkpoint_decodes_64_greedy_tokens_as_the_pytorch_reference_does()
    {
        Assert.True(TorchReference.Available, $"CI=true, but {TorchReference.Python} cannot import torch: .ci/run installs python3-torch (build/debian-packages.txt, concern 'reference'), so this machine is not set up as CI expects");
        var runs = Seeds.Select(Compare).ToList();
        foreach (var run in runs)
        {
            output.WriteLine(run.ToString());
        }

        foreach (var run in runs.Where(r => !r.Exact))
        {
            Assert.True(run.Onset >= 0, $"{run}: the ids part while the logits agree to {TightTolerance:E0}, so the reference's best two are that close there; choose another seed");
            Assert.True(run.Worst <= LooseTolerance, $"{run}: more than a rounding flip does ({LooseTolerance:E0} of the spread)");
            Assert.True(run.TieAtOnset <= TieReach, $"{run}: no rounding tie within {TieReach:E0} there, so no flip explains it");
        }

        Assert.True(runs.Any(r => r.Exact), $"no seed agrees to {TightTolerance:E0} of the logit spread with all {Steps} ids equal; a real difference shows in every seed, a rounding flip only in some (docs/language-models.md): {string.Join("; ", runs)}");
    }

    /// <summary>One seed: the checkpoint written and imported, then the reference and the engine decoded and compared.</summary>
    private Run Compare(int seed)
    {
        using var temp = new TempFolder();
        string checkpoint = temp.File("bitnet-hf");
        string folder = temp.File("imported");
        var weights = SeededBitNet.Weights(Config, seed);

        // Layer 0's input norm is all ones. Its activations are then 127·E[t,i]/max|E[t]|, which for an int8 embedding
        // row (q·scale) is exactly the integer q_i: nothing to round. With random bf16 norm weights, ratios of bf16
        // products land exactly on k + ½ up to dozens of times a run, each a coin toss between float32 and float64.
        // (The float32 format's bf16 embedding still has one kind: an entry exactly half its row's largest gives 63.5.)
        Array.Fill(weights.Layers[0].AttentionNorm, 1f);
        HfBitNetCheckpoint.Write(checkpoint, Config, weights);
        CheckpointImporter.Import(checkpoint, folder, new ImportOptions());

        // The folder says how it stores the embedding (and the tied head); the reference applies the same rounding.
        string embedding = EmbeddingFormat(folder);
        int[] prompt = [Config.BosTokenId!.Value, .. "Greedy:"u8.ToArray().Select(b => (int)b)];
        var reference = TorchReference.Decode(checkpoint, prompt, Steps, embedding, temp.Path);
        Assert.Equal(embedding, reference.Embedding);
        Assert.Equal(Steps, reference.Generated.Length);
        var (generated, logits) = DecodeGreedily(folder, prompt);

        // Up to and including the first step whose ids differ, both sides ran the same tokens: their logits compare.
        int differ = Enumerable.Range(0, Steps).FirstOrDefault(s => generated[s] != reference.Generated[s], Steps);
        double worst = 0;
        int onset = -1;
        for (int step = 0; step < Math.Min(differ + 1, Steps); step++)
        {
            var want = reference.Logits[step];
            double spread = want.Max() - want.Min();
            double deviation = want.Zip(logits[step], (a, b) => Math.Abs(a - b)).Max() / spread;
            worst = Math.Max(worst, deviation);
            if (onset < 0 && deviation > TightTolerance)
            {
                onset = step;
            }
        }

        return new Run(seed, embedding, worst, differ, onset, onset < 0 ? double.NaN : reference.Ties[onset]);
    }

    /// <summary>
    /// The engine's greedy decode: the prompt prefilled in two chunks (as the generation loop splits a long prompt),
    /// then one token a step, each step's logits kept.
    /// </summary>
    private static (int[] Generated, float[][] Logits) DecodeGreedily(string folder, int[] prompt)
    {
        using var model = DecoderModel.Load(LanguageModelFolder.Open(folder), new DecoderOptions { Slots = 1, IntraOpThreads = 1 });
        int length = 0;
        float[] last = [];
        foreach (var chunk in prompt.Chunk(5))
        {
            length += chunk.Length;
            last = model.Step([.. chunk.Select(t => (long)t)], 1, chunk.Length, [length], 0).ToArray();
        }

        var generated = new int[Steps];
        var logits = new float[Steps][];
        for (int step = 0; step < Steps; step++)
        {
            logits[step] = last;
            generated[step] = ArgMax(last);
            if (step + 1 < Steps)
            {
                length++;
                last = model.Step([generated[step]], 1, 1, [length], 0).ToArray();
            }
        }

        return (generated, logits);
    }

    /// <summary>config.json's embeddingFormat ("float32" or "int8"); a folder written before the field existed is float32.</summary>
    private static string EmbeddingFormat(string folder)
    {
        using var config = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(folder, LanguageModelFolder.ConfigFile)));
        return config.RootElement.TryGetProperty("embeddingFormat", out var format) ? format.GetString()! : "float32";
    }

    /// <summary>The first maximum, as numpy's argmax (the reference) takes it.</summary>
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

    /// <summary>
    /// One seed's comparison: the worst step's deviation (fraction of the spread), the first step whose ids differ, the
    /// first step past <see cref="TightTolerance"/> (−1: none) and how close the reference came to a rounding tie there.
    /// </summary>
    private sealed record Run(int Seed, string Embedding, double Worst, int FirstDifference, int Onset, double TieAtOnset)
    {
        /// <summary>Float32 precision at every step and all ids equal.</summary>
        public bool Exact => Onset < 0 && FirstDifference == Steps;

        public override string ToString() =>
            $"seed {Seed} ({Embedding} embedding): worst step {Worst:E2} of the logit spread"
            + (Onset < 0 ? "" : $" (past {TightTolerance:E0} from step {Onset}, where the reference came {TieAtOnset:E1} from a rounding tie)")
            + $", ids {(FirstDifference == Steps ? $"equal for all {Steps}" : $"differ from step {FirstDifference}")}";
    }
}
