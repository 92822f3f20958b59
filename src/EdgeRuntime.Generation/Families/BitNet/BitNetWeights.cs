namespace EdgeRuntime.Generation.Families.BitNet;

/// <summary>
/// Everything a BitNet b1.58 decoder computes with: the token embedding (tied: also the output head), one
/// <see cref="BitNetLayer"/> per block, and the final RMSNorm's weight. Importers and the seeded generator produce
/// it; <see cref="BitNetFolderWriter"/> turns it into a model folder.
/// </summary>
public sealed record BitNetWeights(float[] Embedding, BitNetLayer[] Layers, float[] FinalNorm);

/// <summary>
/// One block: RMSNorm → q, k, v (BitLinear) → grouped-query attention with RoPE → attn_sub_norm → o (BitLinear),
/// residual; RMSNorm → gate, up (BitLinear) → relu(gate)² · up → ffn_sub_norm → down (BitLinear), residual.
/// </summary>
public sealed record BitNetLayer(
    float[] AttentionNorm,
    TernaryMatrix Query,
    TernaryMatrix Key,
    TernaryMatrix Value,
    float[] AttentionSubNorm,
    TernaryMatrix Output,
    float[] FeedForwardNorm,
    TernaryMatrix Gate,
    TernaryMatrix Up,
    float[] FeedForwardSubNorm,
    TernaryMatrix Down);
