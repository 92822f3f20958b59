namespace EdgeRuntime.Generation.Decoding;

/// <summary>
/// Where a model layer's buffer sits among the buffers of one kind (the KV caches of the attention layers, the conv
/// states of the conv layers): layer index → position, with layers of the other kind refused by name.
/// </summary>
internal sealed class LayerSlots
{
    private readonly int[] _position;
    private readonly string _kind;

    /// <param name="layers">The model's layer indices that have such a buffer, in order.</param>
    /// <param name="kind">What the buffer is, for the error ("KV cache", "conv state").</param>
    public LayerSlots(int[] layers, string kind)
    {
        _kind = kind;
        _position = new int[layers.Length == 0 ? 0 : layers.Max() + 1];
        Array.Fill(_position, -1);
        for (int i = 0; i < layers.Length; i++)
        {
            _position[layers[i]] = i;
        }
    }

    /// <summary>The position of <paramref name="layer"/>'s buffer; throws for a layer without one.</summary>
    public int Of(int layer)
    {
        int position = layer >= 0 && layer < _position.Length ? _position[layer] : -1;
        return position >= 0 ? position : throw new ArgumentOutOfRangeException(nameof(layer), layer, $"the layer has no {_kind}");
    }
}
