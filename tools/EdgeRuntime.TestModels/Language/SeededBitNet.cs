using EdgeRuntime.Generation.Families.BitNet;
using EdgeRuntime.Generation.Folder;

namespace EdgeRuntime.TestModels.Language;

/// <summary>
/// BitNet b1.58 models with seeded random weights: the architecture exactly, the values noise. For tests (a tiny
/// model whose every logit a plain reference recomputes) and the benchmark (2B4T's shapes).
/// </summary>
public static class SeededBitNet
{
    public static readonly string[] SpecialTokens = ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"];

    /// <summary>A model small enough to check by hand: byte tokens + 3 specials, 2 layers, GQA 4/2 heads of 16.</summary>
    public static LanguageModelConfig Tiny(int contextLength = 128) => Config(vocab: 259, hidden: 64, intermediate: 160, layers: 2, heads: 4, kvHeads: 2, headDim: 16, contextLength);

    /// <summary>BitNet b1.58 2B4T's published shapes (30 layers, 2560 wide, 20/5 heads of 128, vocab 128256).</summary>
    public static LanguageModelConfig TwoBillion(int contextLength = 4096) => Config(vocab: 128256, hidden: 2560, intermediate: 6912, layers: 30, heads: 20, kvHeads: 5, headDim: 128, contextLength);

    public static LanguageModelConfig Config(int vocab, int hidden, int intermediate, int layers, int heads, int kvHeads, int headDim, int contextLength) => new()
    {
        Format = LanguageModelConfig.FormatName,
        FormatVersion = LanguageModelConfig.CurrentFormatVersion,
        Family = BitNetFolderWriter.Family,
        VocabSize = vocab,
        HiddenSize = hidden,
        IntermediateSize = intermediate,
        Layers = layers,
        AttentionHeads = heads,
        KvHeads = kvHeads,
        HeadDim = headDim,
        RopeTheta = 500000,
        RmsNormEps = 1e-5,
        ContextLength = contextLength,
        BosTokenId = vocab - 3,
        EosTokenIds = [vocab - 2, vocab - 1],
        ChatTemplate = "bitnet",
        EmbeddingFormat = EmbeddingFormats.Int8,
        WeightsBytes = 0,
        Source = "seeded random weights",
    };

    /// <summary>Weights with the shapes of <paramref name="config"/>, from <paramref name="seed"/>.</summary>
    public static BitNetWeights Weights(LanguageModelConfig config, int seed = 5)
    {
        var random = new Random(seed);
        int hidden = config.HiddenSize;
        int attention = config.AttentionHeads * config.HeadDim;
        int kv = config.KvHeads * config.HeadDim;
        var layers = new BitNetLayer[config.Layers];
        for (int l = 0; l < layers.Length; l++)
        {
            layers[l] = new BitNetLayer(
                Norm(random, hidden),
                Ternary(random, attention, hidden),
                Ternary(random, kv, hidden),
                Ternary(random, kv, hidden),
                Norm(random, attention),
                Ternary(random, hidden, attention),
                Norm(random, hidden),
                Ternary(random, config.IntermediateSize, hidden),
                Ternary(random, config.IntermediateSize, hidden),
                Norm(random, config.IntermediateSize),
                Ternary(random, hidden, config.IntermediateSize));
        }

        var embedding = new float[(long)config.VocabSize * hidden];
        for (long i = 0; i < embedding.LongLength; i++)
        {
            embedding[i] = (float)(Gaussian(random) * 0.5);
        }

        return new BitNetWeights(embedding, layers, Norm(random, hidden));
    }

    /// <summary>Writes the whole folder (graph, weights, config, a byte-level tokenizer) and returns its configuration.</summary>
    public static LanguageModelConfig WriteFolder(string folder, LanguageModelConfig config, int seed = 5, Kernels.Ternary.TernaryLayout layout = Kernels.Ternary.TernaryLayout.FourPerByte)
    {
        Directory.CreateDirectory(folder);
        string tokenizer = Path.Combine(folder, "tokenizer.json");
        ByteTokenizerJson.Write(tokenizer, [], SpecialTokens);
        return BitNetFolderWriter.Write(folder, config, Weights(config, seed), tokenizer, layout);
    }

    private static float[] Norm(Random random, int length)
    {
        var weights = new float[length];
        for (int i = 0; i < length; i++)
        {
            weights[i] = (float)(1 + (0.1 * Gaussian(random)));
        }

        return weights;
    }

    private static TernaryMatrix Ternary(Random random, int rows, int columns)
    {
        var weights = new sbyte[(long)rows * columns];
        for (long i = 0; i < weights.LongLength; i++)
        {
            weights[i] = (sbyte)(random.Next(3) - 1);
        }

        // β ≈ 1/√(2K/3) keeps a projection of an RMS-normalised input near unit scale, so 2 or 30 layers stay finite.
        return TernaryMatrix.FromTernary(weights, rows, columns, (float)(1.0 / Math.Sqrt(2.0 * columns / 3.0)));
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
