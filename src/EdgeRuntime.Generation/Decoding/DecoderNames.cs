using System.Globalization;

namespace EdgeRuntime.Generation.Decoding;

/// <summary>
/// The input and output names every decoder graph of a model folder has, whatever its family, so one engine drives
/// them all (docs/language-models.md):
/// <list type="bullet">
/// <item><c>input_ids</c> int64 [batch, sequence]: the new tokens of each sequence (all sequences the same length).</item>
/// <item><c>seqlens_k</c> int32 [batch]: each sequence's length after these tokens, minus one.</item>
/// <item><c>total_sequence_length</c> int32 scalar: the longest such length in the batch.</item>
/// <item><c>past_key.N</c>, <c>past_value.N</c> float32 [batch, kvHeads, capacity, headDim]: layer N's cache. The
/// engine binds <c>present_key.N</c>/<c>present_value.N</c> to the same buffers, so new entries are written in place.</item>
/// <item><c>past_conv.N</c> float32 [batch, hidden, kernel − 1]: conv layer N's state, the last kernel − 1 columns of
/// its gated input, in place through <c>present_conv.N</c> like the KV cache. Attention layers have past_key/past_value,
/// conv layers past_conv, never both.</item>
/// <item><c>prefix_embeds</c> float32 [batch, prefix, hidden], vision-language folders only: embeddings (an image's)
/// that go before the step's tokens and take positions like them; prefix is 0 on every step but an image's.</item>
/// <item><c>logits</c> float32 [batch, vocab]: the next-token logits after each sequence's last new token.</item>
/// </list>
/// </summary>
public static class DecoderNames
{
    public const string InputIds = "input_ids";
    public const string SeqLensK = "seqlens_k";
    public const string TotalSequenceLength = "total_sequence_length";
    public const string Logits = "logits";
    public const string PrefixEmbeds = "prefix_embeds";

    public static string PastKey(int layer) => string.Create(CultureInfo.InvariantCulture, $"past_key.{layer}");

    public static string PastValue(int layer) => string.Create(CultureInfo.InvariantCulture, $"past_value.{layer}");

    public static string PresentKey(int layer) => string.Create(CultureInfo.InvariantCulture, $"present_key.{layer}");

    public static string PresentValue(int layer) => string.Create(CultureInfo.InvariantCulture, $"present_value.{layer}");

    public static string PastConv(int layer) => string.Create(CultureInfo.InvariantCulture, $"past_conv.{layer}");

    public static string PresentConv(int layer) => string.Create(CultureInfo.InvariantCulture, $"present_conv.{layer}");

    /// <summary>With deltaAttention: attention layer N's reference query [batch, heads, headDim], in place.</summary>
    public static string PastDeltaQuery(int layer) => string.Create(CultureInfo.InvariantCulture, $"past_delta_query.{layer}");

    public static string PresentDeltaQuery(int layer) => string.Create(CultureInfo.InvariantCulture, $"present_delta_query.{layer}");

    /// <summary>With deltaAttention: the cached scores of the keys older than the window [batch, heads, capacity], in place.</summary>
    public static string PastDeltaScores(int layer) => string.Create(CultureInfo.InvariantCulture, $"past_delta_scores.{layer}");

    public static string PresentDeltaScores(int layer) => string.Create(CultureInfo.InvariantCulture, $"present_delta_scores.{layer}");

    /// <summary>With deltaAttention: int64 [2], the multiply-adds of decode steps' q·k skipped and in all, accumulated.</summary>
    public static string PastDeltaStats(int layer) => string.Create(CultureInfo.InvariantCulture, $"past_delta_stats.{layer}");

    public static string PresentDeltaStats(int layer) => string.Create(CultureInfo.InvariantCulture, $"present_delta_stats.{layer}");
}
