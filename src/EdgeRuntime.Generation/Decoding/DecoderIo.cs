using System.Globalization;

namespace EdgeRuntime.Generation.Decoding;

/// <summary>
/// The input and output names of a decoder graph: ours (<see cref="DecoderNames"/>: the engine passes seqlens_k and
/// total_sequence_length) or ONNX Runtime GenAI's (an attention_mask the graph turns into them, past_key_values.N.key,
/// present.N.key, past_key_values.N.conv_state, present.N.conv_state, logits [batch, 1 or sequence, vocab]), so the same
/// engine runs a folder GenAI's model builder wrote.
/// </summary>
public sealed class DecoderIo
{
    private DecoderIo(bool genAi) => IsGenAi = genAi;

    /// <summary>Our model folders' graphs.</summary>
    public static DecoderIo EdgeRuntime { get; } = new(genAi: false);

    /// <summary>ONNX Runtime GenAI 0.20's names (its model builder's defaults).</summary>
    public static DecoderIo GenAi { get; } = new(genAi: true);

    public bool IsGenAi { get; }

    public string PastKey(int layer) => IsGenAi ? Name($"past_key_values.{layer}.key") : DecoderNames.PastKey(layer);

    public string PastValue(int layer) => IsGenAi ? Name($"past_key_values.{layer}.value") : DecoderNames.PastValue(layer);

    public string PresentKey(int layer) => IsGenAi ? Name($"present.{layer}.key") : DecoderNames.PresentKey(layer);

    public string PresentValue(int layer) => IsGenAi ? Name($"present.{layer}.value") : DecoderNames.PresentValue(layer);

    public string PastConv(int layer) => IsGenAi ? Name($"past_key_values.{layer}.conv_state") : DecoderNames.PastConv(layer);

    public string PresentConv(int layer) => IsGenAi ? Name($"present.{layer}.conv_state") : DecoderNames.PresentConv(layer);

    /// <summary>GenAI's mask input: int64 [batch, total length], ones for each sequence's positions.</summary>
    public const string AttentionMask = "attention_mask";

    private static string Name(FormattableString name) => name.ToString(CultureInfo.InvariantCulture);
}
