namespace EdgeRuntime.Generation.Folder;

/// <summary>
/// config.json's <c>deltaAttention</c>: the attention layers run our DeltaAttention op instead of GroupQueryAttention
/// (temporal sparsity after DeltaLLM; docs/language-models.md). Keys within <see cref="Window"/> positions of the
/// newest are scored exactly; older ones against a reference query whose components follow the true query only where
/// they moved by more than <see cref="Threshold"/> × the query's RMS. Threshold 0 is the dense result.
/// </summary>
public sealed record DeltaAttentionSettings
{
    /// <summary>Recent positions attended exactly (at least 1).</summary>
    public required int Window { get; init; }

    /// <summary>The change, relative to the query's RMS, below which a query component is not updated (0 or more).</summary>
    public required double Threshold { get; init; }
}
