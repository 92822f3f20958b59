namespace EdgeRuntime.Generation.Families.Lfm2;

/// <summary>
/// Everything an LFM2 hybrid decoder computes with: the token embedding (tied: also the output head), one
/// <see cref="Lfm2Layer"/> per block, and the final RMSNorm's weight (the checkpoint's <c>embedding_norm</c>).
/// </summary>
public sealed record Lfm2Weights(float[] Embedding, Lfm2Layer[] Layers, float[] FinalNorm);

/// <summary>
/// One block: h += mixer(RMSNorm(h; operator_norm)); h += w2(silu(w1 x) · w3 x) with x = RMSNorm(h; ffn_norm). The mixer
/// is <see cref="Lfm2Attention"/> or <see cref="Lfm2Conv"/>, as the configuration's layerTypes says.
/// </summary>
public sealed record Lfm2Layer(float[] OperatorNorm, Lfm2Mixer Mixer, float[] FeedForwardNorm, DenseMatrix W1, DenseMatrix W3, DenseMatrix W2);

/// <summary>A layer's token mixer.</summary>
public abstract record Lfm2Mixer;

/// <summary>
/// Grouped-query attention whose q and k heads are each RMS-normalised (over the head) before RoPE; the output
/// projection is the checkpoint's <c>out_proj</c>.
/// </summary>
public sealed record Lfm2Attention(DenseMatrix Query, DenseMatrix Key, DenseMatrix Value, DenseMatrix Output, float[] QueryNorm, float[] KeyNorm) : Lfm2Mixer;

/// <summary>
/// The gated short convolution: in_proj (H → 3H) split into B, C, x; B·x through a causal depthwise convolution of
/// <c>Kernel</c> ([H, width], one filter a channel, no bias); C times that; out_proj.
/// </summary>
public sealed record Lfm2Conv(DenseMatrix InProjection, float[] Kernel, int Width, DenseMatrix OutProjection) : Lfm2Mixer;

/// <summary>A float matrix [rows, columns] stored row-major, as a Linear layer's weight [out, in].</summary>
public sealed record DenseMatrix(float[] Values, int Rows, int Columns)
{
    /// <summary>The rows of <paramref name="matrices"/> one after another (projections of the same input, computed as one).</summary>
    public static DenseMatrix Stack(params DenseMatrix[] matrices)
    {
        int columns = matrices[0].Columns;
        if (matrices.Any(m => m.Columns != columns))
        {
            throw new ArgumentException("stacked matrices must have the same number of columns", nameof(matrices));
        }

        return new DenseMatrix([.. matrices.SelectMany(m => m.Values)], matrices.Sum(m => m.Rows), columns);
    }

    /// <summary>The transpose, [columns, rows]: the layout MatMul(x, W) reads.</summary>
    public float[] Transposed()
    {
        var result = new float[Values.LongLength];
        for (int r = 0; r < Rows; r++)
        {
            for (int c = 0; c < Columns; c++)
            {
                result[((long)c * Rows) + r] = Values[((long)r * Columns) + c];
            }
        }

        return result;
    }
}
