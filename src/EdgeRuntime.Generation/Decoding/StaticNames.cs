namespace EdgeRuntime.Generation.Decoding;

/// <summary>
/// The inputs a static-shape graph (<see cref="Folder.StaticShapes"/>) has besides <see cref="DecoderNames"/>'
/// <c>input_ids</c> and caches. All sizes are fixed; <c>chunk</c> is the prefill chunk or 1:
/// <list type="bullet">
/// <item><c>input_ids</c>, <c>position_ids</c> int32 [1, chunk]: the tokens and their positions; a short chunk is padded
/// at the end (any token; position: the next).</item>
/// <item><c>attention_mask</c> float32 [1, 1, chunk, capacity + chunk]: added to the scores; 0 where query i may see the
/// key (a cache position before the chunk, or chunk token j ≤ i), a large negative number elsewhere.</item>
/// <item><c>last_index</c> int32 [1]: the chunk's last real token: the logits and the conv state are taken there.</item>
/// <item><c>past_key.N</c>/<c>past_value.N</c> [1, kvHeads, capacity, headDim] in, <c>present_key.N</c>/
/// <c>present_value.N</c> [1, kvHeads, chunk, headDim] out: the chunk's keys and values only, for the host to write
/// into its cache; <c>past_conv.N</c>/<c>present_conv.N</c> [1, hidden, kernel − 1].</item>
/// </list>
/// </summary>
public static class StaticNames
{
    public const string PositionIds = "position_ids";
    public const string AttentionMask = "attention_mask";
    public const string LastIndex = "last_index";

    /// <summary>What the mask adds where a key is hidden: far below any score, and finite (so a 16-bit quantizer or fp16 can hold it).</summary>
    public const float Hidden = -10000f;

    /// <summary>
    /// Fills an <see cref="AttentionMask"/> [chunk, capacity + chunk] for a chunk starting at <paramref name="position"/>:
    /// query i sees the cache positions before the chunk and chunk tokens 0..i; everything else is hidden.
    /// </summary>
    public static void FillMask(Span<float> mask, int chunk, int capacity, int position)
    {
        int width = capacity + chunk;
        for (int i = 0; i < chunk; i++)
        {
            var row = mask.Slice(i * width, width);
            row[..position].Clear();
            row[position..capacity].Fill(Hidden);
            row[capacity..(capacity + i + 1)].Clear();
            row[(capacity + i + 1)..].Fill(Hidden);
        }
    }
}
