using EdgeRuntime.Generation.Engine;
using EdgeRuntime.Generation.Families.BitNet;
using EdgeRuntime.Generation.Folder;

using EdgeRuntime.TestModels.Language;

namespace EdgeRuntime.Generation.Tests.Engine;

/// <summary>The tiny seeded BitNet written once per test class, with its reference for expected tokens.</summary>
public sealed class TinyModel : IDisposable
{
    private readonly TempFolder _folder = new();

    public TinyModel()
    {
        Config = SeededBitNet.WriteFolder(_folder.Path, SeededBitNet.Tiny(contextLength: 64));
        Weights = SeededBitNet.Weights(Config);
    }

    public string Path => _folder.Path;

    public LanguageModelConfig Config { get; }

    public BitNetWeights Weights { get; }

    public LanguageModel Load(GenerationOptions? options = null) =>
        LanguageModel.Load("tiny", Path, options ?? new GenerationOptions { IntraOpThreads = 1 });

    /// <summary>The reference's greedy continuation of <paramref name="tokens"/>, <paramref name="count"/> tokens long.</summary>
    public int[] Greedy(IEnumerable<int> tokens, int count) => new BitNetReference(Config, Weights).Greedy(tokens, count);

    /// <summary>A raw prompt's tokens as the engine builds them for a new session: BOS, then one token per byte.</summary>
    public int[] PromptTokens(string text) => [Config.BosTokenId!.Value, .. System.Text.Encoding.UTF8.GetBytes(text).Select(b => (int)b)];

    public void Dispose() => _folder.Dispose();
}
