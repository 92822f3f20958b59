using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EdgeRuntime.Generation.Decoding;

/// <summary>
/// The conv state of every session a hybrid model can hold: per conv layer, [slots, channels, kernel − 1] floats, the
/// last kernel − 1 columns of the gated input B·x that the causal convolution reads next. Unlike the KV cache it does
/// not grow with the session (an LFM2-350M session holds 10 × 1024 × 2 floats, 80 KiB, at any length), and unlike it
/// it cannot be rewound: it holds the end of the sequence, not every position. Laid out like <see cref="KvCache"/>, so
/// neighbouring slots run as one batch through the same kind of view.
/// </summary>
internal sealed unsafe class ConvStateCache : IDisposable
{
    private readonly float*[] _states;
    private readonly LayerSlots _slots;

    /// <param name="convLayers">The model's layer indices that are conv layers, in order.</param>
    /// <param name="width">Columns of state a layer keeps: the kernel width − 1.</param>
    public ConvStateCache(int[] convLayers, int slots, int channels, int width)
    {
        ConvLayers = convLayers;
        Slots = slots;
        Channels = channels;
        Width = width;
        _slots = new LayerSlots(convLayers, "conv state (it is not a conv layer)");

        _states = new float*[convLayers.Length];
        try
        {
            for (int i = 0; i < _states.Length; i++)
            {
                _states[i] = (float*)NativeMemory.AllocZeroed(checked((nuint)SlotFloats * (nuint)slots * sizeof(float)));
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The model's layer indices that have a conv state.</summary>
    public IReadOnlyList<int> ConvLayers { get; }

    public int Slots { get; }

    public int Channels { get; }

    public int Width { get; }

    /// <summary>Floats of one slot in one layer.</summary>
    public long SlotFloats => (long)Channels * Width;

    /// <summary>Bytes one session's state takes across all conv layers.</summary>
    public long BytesPerSession => SlotFloats * ConvLayers.Count * sizeof(float);

    /// <summary>Bytes the whole cache holds.</summary>
    public long Bytes => BytesPerSession * Slots;

    /// <summary>Bytes one session's state takes in a model with <paramref name="layers"/> conv layers.</summary>
    public static long BytesFor(int layers, int channels, int width) => (long)layers * channels * width * sizeof(float);

    /// <summary>A tensor over slots [first, first + count) of conv layer <paramref name="layer"/>'s state (no copy).</summary>
    public OrtValue View(int layer, int first, int count)
    {
        float* start = _states[_slots.Of(layer)] + (first * SlotFloats);
        return OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, TensorElementType.Float, [count, Channels, Width], (IntPtr)start, count * SlotFloats * sizeof(float));
    }

    /// <summary>Zeroes a slot's state: what the convolution's left padding reads before a sequence's first token.</summary>
    public void Clear(int slot)
    {
        foreach (float* state in _states)
        {
            new Span<float>(state + (slot * SlotFloats), (int)SlotFloats).Clear();
        }
    }

    /// <summary>Copies slot <paramref name="from"/>'s state into slot <paramref name="to"/>.</summary>
    public void MoveSlot(int from, int to)
    {
        if (from == to)
        {
            return;
        }

        long bytes = SlotFloats * sizeof(float);
        foreach (float* state in _states)
        {
            Buffer.MemoryCopy(state + (from * SlotFloats), state + (to * SlotFloats), bytes, bytes);
        }
    }

    /// <summary>Copies slots [first, first + count) of every layer into <paramref name="target"/>, a cache of the same shape.</summary>
    public void CopyTo(ConvStateCache target, int first, int count)
    {
        long bytes = SlotFloats * count * sizeof(float);
        for (int i = 0; i < _states.Length; i++)
        {
            Buffer.MemoryCopy(_states[i] + (first * SlotFloats), target._states[i] + (first * SlotFloats), bytes, bytes);
        }
    }

    public void Dispose()
    {
        for (int i = 0; i < _states.Length; i++)
        {
            NativeMemory.Free(_states[i]);
            _states[i] = null;
        }
    }
}
