using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EdgeRuntime.Generation.Decoding;

/// <summary>
/// The key/value cache of every session a model can hold, allocated once at load: per attention layer, one key and one
/// value buffer of [slots, kvHeads, capacity, headDim] floats (a hybrid model's conv layers have none). A session owns one slot. Sessions in neighbouring slots can
/// run as one batch (a view [count, kvHeads, capacity, headDim] starting at the first slot), which is why the engine
/// keeps active sessions packed at the low slots (<see cref="MoveSlot"/>).
/// </summary>
internal sealed unsafe class KvCache : IDisposable
{
    private readonly float*[] _keys;
    private readonly float*[] _values;
    private readonly LayerSlots _slots;

    /// <param name="attentionLayers">The model's layer indices that attend (and so have a cache), in order.</param>
    public KvCache(int[] attentionLayers, int slots, int kvHeads, int capacity, int headDim)
    {
        int layers = attentionLayers.Length;
        AttentionLayers = attentionLayers;
        _slots = new LayerSlots(attentionLayers, "KV cache (it is not an attention layer)");

        Layers = layers;
        Slots = slots;
        KvHeads = kvHeads;
        Capacity = capacity;
        HeadDim = headDim;
        _keys = new float*[layers];
        _values = new float*[layers];
        nuint bytes = checked((nuint)SlotFloats * (nuint)slots * sizeof(float));
        try
        {
            for (int l = 0; l < layers; l++)
            {
                // calloc: large blocks come zeroed straight from the kernel, so a page costs resident memory only once a
                // position in it is written, not at load.
                _keys[l] = (float*)NativeMemory.AllocZeroed(bytes);
                _values[l] = (float*)NativeMemory.AllocZeroed(bytes);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>How many layers have a cache.</summary>
    public int Layers { get; }

    /// <summary>The model's layer indices that have a cache.</summary>
    public IReadOnlyList<int> AttentionLayers { get; }

    public int Slots { get; }

    public int KvHeads { get; }

    public int Capacity { get; }

    public int HeadDim { get; }

    /// <summary>Floats of one slot in one layer's key (or value) buffer.</summary>
    public long SlotFloats => (long)KvHeads * Capacity * HeadDim;

    /// <summary>Bytes the whole cache holds.</summary>
    public long Bytes => SlotFloats * Slots * Layers * 2 * sizeof(float);

    /// <summary>Bytes one position costs across <paramref name="layers"/> attention layers (keys and values).</summary>
    public static long BytesPerPosition(int layers, int kvHeads, int headDim) => (long)layers * kvHeads * headDim * 2 * sizeof(float);

    /// <summary>A tensor over slots [first, first + count) of attention layer <paramref name="layer"/>'s keys or values (no copy).</summary>
    public OrtValue View(int layer, bool value, int first, int count)
    {
        float* start = (value ? _values : _keys)[_slots.Of(layer)] + (first * SlotFloats);
        return OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, TensorElementType.Float, [count, KvHeads, Capacity, HeadDim], (IntPtr)start, count * SlotFloats * sizeof(float));
    }

    /// <summary>
    /// Writes <paramref name="count"/> new positions from <paramref name="source"/> ([kvHeads, chunk, headDim], the first
    /// count of each head's chunk rows) into slot <paramref name="slot"/> at <paramref name="position"/>: how a static-shape
    /// graph's new keys and values enter the cache.
    /// </summary>
    public void Write(int layer, bool value, int slot, int position, ReadOnlySpan<float> source, int chunk, int count)
    {
        if (position < 0 || count < 0 || count > chunk || position + count > Capacity || source.Length < (long)KvHeads * chunk * HeadDim)
        {
            throw new ArgumentOutOfRangeException(nameof(position), $"{count} positions at {position} do not fit a cache of {Capacity} (chunk {chunk}).");
        }

        float* slotStart = (value ? _values : _keys)[_slots.Of(layer)] + (slot * SlotFloats);
        int run = count * HeadDim;
        for (int h = 0; h < KvHeads; h++)
        {
            var from = source.Slice(h * chunk * HeadDim, run);
            from.CopyTo(new Span<float>(slotStart + ((((long)h * Capacity) + position) * HeadDim), run));
        }
    }

    /// <summary>Copies the first <paramref name="positions"/> positions of slot <paramref name="from"/> into slot <paramref name="to"/>.</summary>
    public void MoveSlot(int from, int to, int positions)
    {
        if (from == to || positions == 0)
        {
            return;
        }

        long run = (long)positions * HeadDim;
        for (int l = 0; l < Layers; l++)
        {
            Copy(_keys[l]);
            Copy(_values[l]);
        }

        void Copy(float* buffer)
        {
            for (int h = 0; h < KvHeads; h++)
            {
                long head = (long)h * Capacity * HeadDim;
                Buffer.MemoryCopy(buffer + (from * SlotFloats) + head, buffer + (to * SlotFloats) + head, run * sizeof(float), run * sizeof(float));
            }
        }
    }

    public void Dispose()
    {
        for (int l = 0; l < Layers; l++)
        {
            NativeMemory.Free(_keys[l]);
            NativeMemory.Free(_values[l]);
            _keys[l] = null;
            _values[l] = null;
        }
    }
}
