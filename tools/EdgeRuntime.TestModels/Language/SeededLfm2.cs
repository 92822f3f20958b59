using EdgeRuntime.Generation.Families;
using EdgeRuntime.Generation.Families.Lfm2;
using EdgeRuntime.Generation.Folder;

namespace EdgeRuntime.TestModels.Language;

/// <summary>
/// LFM2 hybrid models with seeded random weights: the architecture exactly, the values noise. For tests (a tiny model
/// with conv and attention layers) and the benchmark (LFM2-350M's shapes).
/// </summary>
public static class SeededLfm2
{
    /// <summary>A small hybrid: byte tokens + 3 specials, 4 layers (conv, conv, attention, conv), 4/2 heads of 16.</summary>
    public static LanguageModelConfig Tiny(int contextLength = 128) =>
        Config(vocab: 259, hidden: 64, intermediate: 160, heads: 4, kvHeads: 2, [LayerKinds.Conv, LayerKinds.Conv, LayerKinds.Attention, LayerKinds.Conv], contextLength);

    /// <summary>
    /// LFM2-350M's published shapes: hidden 1024, 16 layers with attention at 2, 5, 8, 10, 12 and 14, 16/8 heads of 64,
    /// vocabulary 65536, and the feed-forward width its config's auto-adjust gives (6656 → 4608).
    /// </summary>
    public static LanguageModelConfig Lfm2_350M(int contextLength = 4096)
    {
        int[] attention = [2, 5, 8, 10, 12, 14];
        string[] types = [.. Enumerable.Range(0, 16).Select(l => attention.Contains(l) ? LayerKinds.Attention : LayerKinds.Conv)];
        return Config(vocab: 65536, hidden: 1024, intermediate: 4608, heads: 16, kvHeads: 8, types, contextLength);
    }

    public static LanguageModelConfig Config(int vocab, int hidden, int intermediate, int heads, int kvHeads, string[] layerTypes, int contextLength) => new()
    {
        Format = LanguageModelConfig.FormatName,
        FormatVersion = LanguageModelConfig.CurrentFormatVersion,
        Family = Lfm2FolderWriter.Family,
        VocabSize = vocab,
        HiddenSize = hidden,
        IntermediateSize = intermediate,
        Layers = layerTypes.Length,
        AttentionHeads = heads,
        KvHeads = kvHeads,
        HeadDim = hidden / heads,
        RopeTheta = 1000000,
        RmsNormEps = 1e-5,
        ContextLength = contextLength,
        BosTokenId = vocab - 3,
        EosTokenIds = [vocab - 2, vocab - 1],
        ChatTemplate = "chatml",
        EmbeddingFormat = EmbeddingFormats.Int8,
        LayerTypes = layerTypes,
        ConvKernel = 3,
        WeightsBytes = 0,
        Source = "seeded random weights",
    };

    /// <summary>Weights with the shapes and layer kinds of <paramref name="config"/>, from <paramref name="seed"/>.</summary>
    public static Lfm2Weights Weights(LanguageModelConfig config, int seed = 5)
    {
        var random = new Random(seed);
        int hidden = config.HiddenSize;
        int query = config.AttentionHeads * config.HeadDim;
        int kv = config.KvHeads * config.HeadDim;
        int kernel = config.ConvKernel ?? 3;
        var layers = new Lfm2Layer[config.Layers];
        for (int l = 0; l < layers.Length; l++)
        {
            Lfm2Mixer mixer = LayerKinds.Of(config, l) == LayerKinds.Attention
                ? new Lfm2Attention(Dense(random, query, hidden), Dense(random, kv, hidden), Dense(random, kv, hidden), Dense(random, hidden, query), Norm(random, config.HeadDim), Norm(random, config.HeadDim))
                : new Lfm2Conv(Dense(random, 3 * hidden, hidden), Gaussians(random, hidden * kernel, 0.5), kernel, Dense(random, hidden, hidden));
            layers[l] = new Lfm2Layer(
                Norm(random, hidden),
                mixer,
                Norm(random, hidden),
                Dense(random, config.IntermediateSize, hidden),
                Dense(random, config.IntermediateSize, hidden),
                Dense(random, hidden, config.IntermediateSize));
        }

        return new Lfm2Weights(Gaussians(random, config.VocabSize * hidden, 0.5), layers, Norm(random, hidden));
    }

    /// <summary>Writes the whole folder (graph, weights, config, a byte-level tokenizer) and returns its configuration.</summary>
    public static LanguageModelConfig WriteFolder(string folder, LanguageModelConfig config, int seed = 5) =>
        WriteFolder(folder, config, Weights(config, seed));

    /// <summary>Writes the folder for the given weights; a static-shape folder when the configuration has a static section.</summary>
    /// <param name="calibration">For QDQ projections: the calibrated ranges (<see cref="ActivationCalibration"/>).</param>
    public static LanguageModelConfig WriteFolder(string folder, LanguageModelConfig config, Lfm2Weights weights, ActivationCalibration.Result? calibration = null)
    {
        Directory.CreateDirectory(folder);
        string tokenizer = TokenizerIn(folder);
        return config.Static is null
            ? Lfm2FolderWriter.Write(folder, config, weights, tokenizer)
            : Lfm2FolderWriter.WriteStatic(folder, config, weights, tokenizer, errors: null, calibration);
    }

    /// <summary>Writes the seeded models' byte tokenizer into <paramref name="folder"/>; returns its path.</summary>
    public static string TokenizerIn(string folder)
    {
        Directory.CreateDirectory(folder);
        string tokenizer = Path.Combine(folder, "tokenizer.json");
        ByteTokenizerJson.Write(tokenizer, [], SeededBitNet.SpecialTokens);
        return tokenizer;
    }

    private static float[] Norm(Random random, int length)
    {
        var weights = Gaussians(random, length, 0.1);
        for (int i = 0; i < length; i++)
        {
            weights[i] += 1;
        }

        return weights;
    }

    /// <summary>A [rows, columns] projection scaled by 1/√columns, so a normalised input keeps about unit scale through any depth.</summary>
    private static DenseMatrix Dense(Random random, int rows, int columns) =>
        new(Gaussians(random, rows * columns, 1.0 / Math.Sqrt(columns)), rows, columns);

    private static float[] Gaussians(Random random, int count, double scale)
    {
        var values = new float[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = (float)(scale * Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
        }

        return values;
    }
}
