using EdgeRuntime.Generation.Decoding;
using EdgeRuntime.Generation.Engine;
using EdgeRuntime.Generation.Folder;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Generation.Tests.Vision;

/// <summary>
/// A vision-language folder's image goes before the prompt as embeddings that take positions like tokens. The check
/// that cannot be argued with: embeddings equal to some tokens' own rows of the (float32) embedding table must give
/// exactly what those tokens give, for the step and for the decode steps after it (positions, KV cache, conv state).
/// Then the engine: an image request, served next to a text request, answers what the decoder gives it alone.
/// </summary>
public sealed class ImagePrefixTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private readonly TempFolder _folder = new();
    private readonly LanguageModelConfig _config;
    private readonly float[] _table;

    public ImagePrefixTests()
    {
        var (config, weights) = SeededVisionModel.Write(_folder.File("vlm"));
        _config = config;
        _table = weights.Embedding;
    }

    [Fact]
    public void Embeddings_of_tokens_as_a_prefix_give_what_the_tokens_give()
    {
        long[] asPrefix = [65, 66, 67, 68];
        long[] rest = [_config.BosTokenId!.Value, 72, 105];
        float[] prefix = [.. asPrefix.SelectMany(t => _table.AsSpan((int)t * _config.HiddenSize, _config.HiddenSize).ToArray())];
        using var withPrefix = Decoder();
        using var asTokens = Decoder();

        var a = withPrefix.Step(rest, 1, rest.Length, [asPrefix.Length + rest.Length], 0, prefix).ToArray();
        var b = asTokens.Step([.. asPrefix, .. rest], 1, asPrefix.Length + rest.Length, [asPrefix.Length + rest.Length], 0).ToArray();
        AssertClose(b, a);
        for (int step = 0; step < 3; step++)
        {
            long next = Array.IndexOf(b, b.Max());
            int total = asPrefix.Length + rest.Length + step + 1;
            a = withPrefix.Step([next], 1, 1, [total], 0).ToArray();
            b = asTokens.Step([next], 1, 1, [total], 0).ToArray();
            AssertClose(b, a);
        }
    }

    [Fact]
    public void A_step_without_an_image_is_the_text_model_s_step()
    {
        // The empty prefix ([1, 0, hidden]) must change nothing: compare with the same folder written without vision.
        var textConfig = _config with { Vision = null };
        string textFolder = _folder.File("text");
        EdgeRuntime.TestModels.Language.SeededLfm2.WriteFolder(textFolder, textConfig);
        using var vision = Decoder();
        using var text = DecoderModel.Load(LanguageModelFolder.Open(textFolder), new DecoderOptions { Slots = 1, IntraOpThreads = 1 });
        long[] prompt = [_config.BosTokenId!.Value, 80, 81];
        AssertClose(text.Step(prompt, 1, 3, [3], 0).ToArray(), vision.Step(prompt, 1, 3, [3], 0).ToArray());
    }

    [Fact]
    public async Task An_image_request_served_beside_a_text_request_answers_what_the_decoder_gives_it_alone()
    {
        byte[] image = SeededVisionModel.Image(seed: 3);
        float[] embeddings;
        using (var encoder = ImageEncoder.Load(Path.Combine(_folder.File("vlm"), "vision.onnx"), _config.Vision!, _config.HiddenSize, threads: 1))
        {
            embeddings = encoder.Encode([.. image.Select(p => p / 255f)]);
        }

        int[] expected = Greedy(embeddings, [_config.BosTokenId!.Value], 6);
        int[] expectedText = Greedy(null, [_config.BosTokenId!.Value, 90], 6);

        using var model = LanguageModel.Load("vlm", _folder.File("vlm"), new GenerationOptions { IntraOpThreads = 1, MaxBatch = 2, Sessions = 2 });
        var descriptor = new TensorDescriptor("image", "uint8", [SeededVisionModel.Side, SeededVisionModel.Side], 0, image.Length);
        var withImage = model.Start(new GenerateRequest("vlm") { Prompt = "", MaxTokens = 6, StopTokenIds = [], Image = descriptor }, image);
        var textOnly = model.Start(new GenerateRequest("vlm") { Prompt = "Z", MaxTokens = 6, StopTokenIds = [] });
        Assert.Equal(expected, await Collect(withImage));
        Assert.Equal(expectedText, await Collect(textOnly));

        // The image's positions are the session's too: image, BOS, and every answer token but a last one not fed back.
        var summary = await withImage.Summary.WaitAsync(Timeout);
        int fed = summary.StopReason == StopReasons.MaxTokens ? expected.Length - 1 : expected.Length;
        Assert.Equal(SeededVisionModel.Tokens + 1 + fed, summary.ContextUsed);
    }

    public void Dispose() => _folder.Dispose();

    private DecoderModel Decoder() => DecoderModel.Load(LanguageModelFolder.Open(_folder.File("vlm")), new DecoderOptions { Slots = 1, IntraOpThreads = 1 });

    /// <summary>The decoder's greedy continuation for one session alone, with an optional prefix before the prompt.</summary>
    private int[] Greedy(float[]? prefix, int[] prompt, int count)
    {
        using var decoder = Decoder();
        int prefixLength = prefix is null ? 0 : prefix.Length / _config.HiddenSize;
        var logits = decoder.Step([.. prompt.Select(t => (long)t)], 1, prompt.Length, [prefixLength + prompt.Length], 0, prefix).ToArray();
        var tokens = new List<int>();
        for (int i = 0; i < count; i++)
        {
            int next = Array.IndexOf(logits, logits.Max());
            if (_config.EosTokenIds.Contains(next))
            {
                break;
            }

            tokens.Add(next);
            logits = decoder.Step([next], 1, 1, [prefixLength + prompt.Length + i + 1], 0).ToArray();
        }

        return [.. tokens];
    }

    private static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        float range = expected.Max() - expected.Min();
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5f * range, $"logit {i}: {actual[i]} against {expected[i]}");
        }
    }

    private static async Task<int[]> Collect(GenerationRun run)
    {
        var ids = new List<int>();
        using var timeout = new CancellationTokenSource(Timeout);
        await foreach (var token in run.Tokens.ReadAllAsync(timeout.Token))
        {
            ids.Add(token.Id);
        }

        return [.. ids];
    }
}
