using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EdgeRuntime.Generation.Decoding;

/// <summary>
/// What DeltaAttention keeps beside the KV cache, per attention layer: each slot's reference query [heads, headDim] and
/// the cached scores of its keys older than the window [heads, capacity], laid out by slot like <see cref="KvCache"/>
/// so neighbouring slots run as one batch; and one pair of counters [skipped, total] of the decode steps' q·k
/// multiply-adds, shared by all slots (the measure of the attention's sparsity).
/// </summary>
internal sealed unsafe class DeltaAttentionState : IDisposable
{
    private readonly float*[] _queries;
    private readonly float*[] _scores;
    private readonly long*[] _stats;
    private readonly LayerSlots _layers;

    public DeltaAttentionState(int[] attentionLayers, int slots, int heads, int headDim, int capacity)
    {
        _layers = new LayerSlots(attentionLayers, "delta-attention state (it is not an attention layer)");
        Slots = slots;
        Heads = heads;
        HeadDim = headDim;
        Capacity = capacity;
        _queries = new float*[attentionLayers.Length];
        _scores = new float*[attentionLayers.Length];
        _stats = new long*[attentionLayers.Length];
        try
        {
            for (int i = 0; i < attentionLayers.Length; i++)
            {
                _queries[i] = (float*)NativeMemory.AllocZeroed(checked((nuint)QueryFloats * (nuint)slots * sizeof(float)));
                _scores[i] = (float*)NativeMemory.AllocZeroed(checked((nuint)ScoreFloats * (nuint)slots * sizeof(float)));
                _stats[i] = (long*)NativeMemory.AllocZeroed(2 * sizeof(long));
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public int Slots { get; }

    public int Heads { get; }

    public int HeadDim { get; }

    public int Capacity { get; }

    private long QueryFloats => (long)Heads * HeadDim;

    private long ScoreFloats => (long)Heads * Capacity;

    /// <summary>Bytes one session's state takes.</summary>
    public long BytesPerSession => (QueryFloats + ScoreFloats) * _queries.Length * sizeof(float);

    public long Bytes => BytesPerSession * Slots;

    public OrtValue QueryView(int layer, int first, int count) =>
        OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, TensorElementType.Float, [count, Heads, HeadDim], (IntPtr)(_queries[_layers.Of(layer)] + (first * QueryFloats)), count * QueryFloats * sizeof(float));

    public OrtValue ScoresView(int layer, int first, int count) =>
        OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, TensorElementType.Float, [count, Heads, Capacity], (IntPtr)(_scores[_layers.Of(layer)] + (first * ScoreFloats)), count * ScoreFloats * sizeof(float));

    public OrtValue StatsView(int layer) =>
        OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, TensorElementType.Int64, [2], (IntPtr)_stats[_layers.Of(layer)], 2 * sizeof(long));

    /// <summary>The decode steps' q·k multiply-adds so far, over all layers and sessions: skipped, and in all.</summary>
    public (long Skipped, long Total) Counts()
    {
        long skipped = 0, total = 0;
        foreach (long* pair in _stats)
        {
            skipped += pair[0];
            total += pair[1];
        }

        return (skipped, total);
    }

    /// <summary>Copies slot <paramref name="from"/>'s reference queries and its first <paramref name="positions"/> scores into slot <paramref name="to"/>.</summary>
    public void MoveSlot(int from, int to, int positions)
    {
        if (from == to)
        {
            return;
        }

        for (int i = 0; i < _queries.Length; i++)
        {
            long queryBytes = QueryFloats * sizeof(float);
            Buffer.MemoryCopy(_queries[i] + (from * QueryFloats), _queries[i] + (to * QueryFloats), queryBytes, queryBytes);
            long run = (long)Math.Min(positions, Capacity) * sizeof(float);
            for (int h = 0; h < Heads; h++)
            {
                Buffer.MemoryCopy(_scores[i] + (from * ScoreFloats) + ((long)h * Capacity), _scores[i] + (to * ScoreFloats) + ((long)h * Capacity), run, run);
            }
        }
    }

    public void Dispose()
    {
        for (int i = 0; i < _queries.Length; i++)
        {
            NativeMemory.Free(_queries[i]);
            NativeMemory.Free(_scores[i]);
            NativeMemory.Free(_stats[i]);
            _queries[i] = null;
            _scores[i] = null;
            _stats[i] = null;
        }
    }
}
