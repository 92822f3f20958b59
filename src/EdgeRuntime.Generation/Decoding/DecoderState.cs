using EdgeRuntime.Generation.Folder;

namespace EdgeRuntime.Generation.Decoding;

/// <summary>
/// Everything a decoder keeps per session between steps: the KV cache of its attention layers and the conv state of
/// its conv layers (none for a model without conv layers), for all slots. Moves and clears act on both.
/// </summary>
internal sealed class DecoderState : IDisposable
{
    public DecoderState(LanguageModelConfig config, int slots, int capacity)
    {
        Kv = new KvCache(LayerKinds.Layers(config, LayerKinds.Attention), slots, config.KvHeads, capacity, config.HeadDim);
        try
        {
            Conv = new ConvStateCache(LayerKinds.Layers(config, LayerKinds.Conv), slots, config.HiddenSize, Math.Max(0, (config.ConvKernel ?? 1) - 1));
            Delta = config.DeltaAttention is null ? null : new DeltaAttentionState(LayerKinds.Layers(config, LayerKinds.Attention), slots, config.AttentionHeads, config.HeadDim, capacity);
        }
        catch
        {
            Kv.Dispose();
            Conv?.Dispose();
            throw;
        }
    }

    public KvCache Kv { get; }

    public ConvStateCache Conv { get; }

    /// <summary>DeltaAttention's reference queries and cached scores; null for a model without deltaAttention.</summary>
    public DeltaAttentionState? Delta { get; }

    public int Slots => Kv.Slots;

    /// <summary>Positions one session can hold.</summary>
    public int Capacity => Kv.Capacity;

    /// <summary>Bytes the whole state holds (every slot).</summary>
    public long Bytes => Kv.Bytes + Conv.Bytes + (Delta?.Bytes ?? 0);

    /// <summary>Bytes one session's state takes at full context: its KV cache at capacity and its conv state.</summary>
    public long BytesPerSession => (Kv.Bytes / Math.Max(1, Slots)) + Conv.BytesPerSession + (Delta?.BytesPerSession ?? 0);

    /// <summary>Bytes one session's state takes at <paramref name="capacity"/> positions, before anything is allocated.</summary>
    public static long BytesPerSessionFor(LanguageModelConfig config, int capacity) =>
        (KvCache.BytesPerPosition(LayerKinds.Layers(config, LayerKinds.Attention).Length, config.KvHeads, config.HeadDim) * capacity)
        + ConvStateCache.BytesFor(LayerKinds.Layers(config, LayerKinds.Conv).Length, config.HiddenSize, Math.Max(0, (config.ConvKernel ?? 1) - 1));

    /// <summary>Copies the first <paramref name="positions"/> positions (and the conv state) of slot <paramref name="from"/> into slot <paramref name="to"/>.</summary>
    public void MoveSlot(int from, int to, int positions)
    {
        Kv.MoveSlot(from, to, positions);
        Conv.MoveSlot(from, to);
        Delta?.MoveSlot(from, to, positions);
    }

    public void Dispose()
    {
        Kv.Dispose();
        Conv.Dispose();
        Delta?.Dispose();
    }
}
