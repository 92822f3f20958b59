using EdgeRuntime.Generation.Decoding;
using EdgeRuntime.Generation.Folder;

namespace EdgeRuntime.Generation.Evaluation;

/// <summary>
/// A model folder's perplexity on a token stream, fed one token per step as generation feeds it (so every position
/// but a window's first is a decode step, where DeltaAttention's sparsity acts): the stream is cut into windows of the
/// model's context, each from a fresh session, and every next-token prediction in them counts.
/// </summary>
/// <param name="Value">exp(mean negative log-likelihood).</param>
/// <param name="Predictions">How many next tokens were scored.</param>
/// <param name="DeltaSkipped">With deltaAttention: the decode steps' q·k multiply-adds skipped.</param>
/// <param name="DeltaTotal">With deltaAttention: the decode steps' q·k multiply-adds a dense attention would do.</param>
public sealed record Perplexity(double Value, long Predictions, long DeltaSkipped, long DeltaTotal)
{
    /// <summary>The share of the decode steps' q·k work skipped, in percent (0 without deltaAttention).</summary>
    public double SparsityPercent => DeltaTotal == 0 ? 0 : 100.0 * DeltaSkipped / DeltaTotal;

    /// <param name="windows">At most this many windows of the context's length are scored.</param>
    public static Perplexity Measure(string folder, IReadOnlyList<int> tokens, int windows, int threads = 1)
    {
        using var model = DecoderModel.Load(LanguageModelFolder.Open(folder), new DecoderOptions { Slots = 1, IntraOpThreads = threads, VerifyWeights = false });
        int length = model.Capacity;
        double nll = 0;
        long predictions = 0;
        for (int w = 0; w < windows && (w + 1) * length <= tokens.Count; w++)
        {
            int start = w * length;
            for (int p = 0; p < length - 1; p++)
            {
                var logits = model.Step([tokens[start + p]], 1, 1, [p + 1], 0);
                nll -= LogSoftmaxAt(logits, tokens[start + p + 1]);
                predictions++;
            }
        }

        if (predictions == 0)
        {
            throw new ArgumentException($"{tokens.Count} tokens do not fill one window of the model's context ({length}).", nameof(tokens));
        }

        var (skipped, total) = model.State.Delta?.Counts() ?? (0, 0);
        return new Perplexity(Math.Exp(nll / predictions), predictions, skipped, total);
    }

    private static double LogSoftmaxAt(ReadOnlySpan<float> logits, int index)
    {
        float max = float.NegativeInfinity;
        foreach (float v in logits)
        {
            max = MathF.Max(max, v);
        }

        double sum = 0;
        foreach (float v in logits)
        {
            sum += Math.Exp(v - max);
        }

        return logits[index] - max - Math.Log(sum);
    }
}
