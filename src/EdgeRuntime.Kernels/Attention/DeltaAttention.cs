using System.Buffers;

namespace EdgeRuntime.Kernels.Attention;

/// <summary>The sizes of one <see cref="DeltaAttention"/> call.</summary>
/// <param name="Batch">Sequences.</param>
/// <param name="Sequence">New tokens per sequence (all the same).</param>
/// <param name="Heads">Query heads.</param>
/// <param name="KvHeads">Key/value heads; Heads is a multiple of it (grouped-query attention).</param>
/// <param name="HeadDim">Values per head (even: RoPE rotates pairs i, i + HeadDim/2).</param>
/// <param name="Capacity">Positions each sequence's cache holds.</param>
/// <param name="Window">Recent positions attended exactly; older ones through the delta-updated scores.</param>
/// <param name="Threshold">A query component's change is applied only when larger than this times the query's RMS; 0 applies every change.</param>
public readonly record struct DeltaAttentionShape(int Batch, int Sequence, int Heads, int KvHeads, int HeadDim, int Capacity, int Window, float Threshold);

/// <summary>
/// Attention with temporal sparsity in the query (after DeltaLLM, arXiv 2507.19608, whose threshold and window rules are
/// unpublished; these are ours). Keys within <c>Window</c> positions of the newest are scored exactly, q·k. Older keys
/// are scored against a reference query q̂ whose components follow the true query only where they changed by more than
/// <c>Threshold</c> × rms(q) since they were last updated: the cached score q̂·k of each old key is then updated by the
/// changed components alone, so the work on old keys is proportional to how many components moved. Softmax and the
/// weighted sum of values are exact over all positions.
/// <list type="bullet">
/// <item>A prefill step (more than one new token) attends densely and sets q̂ to its last query, with every old key's
/// score computed in full. A decode step applies the thresholded change, then scores the key that has just left the
/// window against the updated q̂ (one full dot product).</item>
/// <item>With threshold 0 every change is applied, q̂ is the query and each cached score equals q·k up to the rounding
/// of its running sum: the dense result.</item>
/// <item>The query is taken after RoPE (keys are cached rotated, so a score is an absolute dot product): the fast-turning
/// pairs change every step and are always applied, the slow ones rarely.</item>
/// </list>
/// The counts of multiply-adds of the decode steps' q·k products, skipped and in all, are added to <c>stats</c>.
/// </summary>
public static unsafe class DeltaAttention
{
    /// <param name="query">[batch, sequence, heads · headDim], before RoPE.</param>
    /// <param name="key">[batch, sequence, kvHeads · headDim], before RoPE.</param>
    /// <param name="value">[batch, sequence, kvHeads · headDim].</param>
    /// <param name="keyCache">[batch, kvHeads, capacity, headDim]: the new keys are written (rotated) at their positions.</param>
    /// <param name="valueCache">As <paramref name="keyCache"/>.</param>
    /// <param name="lastPositions">[batch]: each sequence's length after these tokens, minus one.</param>
    /// <param name="cos">RoPE tables [positions, headDim / 2].</param>
    /// <param name="sin">As <paramref name="cos"/>.</param>
    /// <param name="reference">[batch, heads, headDim]: q̂.</param>
    /// <param name="scores">[batch, heads, capacity]: q̂·k of the keys older than the window.</param>
    /// <param name="stats">[2]: skipped and total multiply-adds of decode steps' q·k, accumulated.</param>
    /// <param name="output">[batch, sequence, heads · headDim].</param>
    public static void Compute(in DeltaAttentionShape s, float* query, float* key, float* value, float* keyCache, float* valueCache, int* lastPositions, float* cos, float* sin, int tablePositions, float* reference, float* scores, long* stats, float* output)
    {
        int d = s.HeadDim, half = d / 2, group = s.Heads / s.KvHeads;
        long cacheHead = (long)s.Capacity * d;
        // Scratch from the pool: this runs for every attention layer of every step.
        var rotated = ArrayPool<float>.Shared.Rent(d);
        var weights = ArrayPool<float>.Shared.Rent(s.Capacity);
        var delta = ArrayPool<float>.Shared.Rent(d);
        var changed = ArrayPool<int>.Shared.Rent(d);
        float scale = 1f / MathF.Sqrt(d);
        try
        {
            for (int b = 0; b < s.Batch; b++)
            {
                int total = lastPositions[b] + 1;
                int first = total - s.Sequence;
                if (first < 0 || total > s.Capacity || total > tablePositions)
                {
                    throw new ArgumentException($"sequence {b} would end at position {total} with {s.Sequence} new tokens; the cache holds {s.Capacity} and the RoPE tables {tablePositions}.");
                }

                // The new keys (rotated) and values into the cache.
                for (int t = 0; t < s.Sequence; t++)
                {
                    for (int g = 0; g < s.KvHeads; g++)
                    {
                        long source = (((long)b * s.Sequence) + t) * s.KvHeads * d + ((long)g * d);
                        long target = ((((long)b * s.KvHeads) + g) * cacheHead) + ((long)(first + t) * d);
                        Rotate(key + source, keyCache + target, cos, sin, first + t, half);
                        new ReadOnlySpan<float>(value + source, d).CopyTo(new Span<float>(valueCache + target, d));
                    }
                }

                for (int h = 0; h < s.Heads; h++)
                {
                    int g = h / group;
                    float* keys = keyCache + ((((long)b * s.KvHeads) + g) * cacheHead);
                    float* values = valueCache + ((((long)b * s.KvHeads) + g) * cacheHead);
                    float* qHat = reference + ((((long)b * s.Heads) + h) * d);
                    float* cached = scores + ((((long)b * s.Heads) + h) * (long)s.Capacity);
                    for (int t = 0; t < s.Sequence; t++)
                    {
                        int position = first + t;
                        int length = position + 1;
                        fixed (float* q = rotated)
                        {
                            Rotate(query + ((((long)b * s.Sequence) + t) * s.Heads * d) + ((long)h * d), q, cos, sin, position, half);
                            int old = Math.Max(0, length - s.Window);
                            if (old == 0)
                            {
                                // No old keys yet: q̂ simply is the query (and a slot's earlier session leaves nothing in it).
                                new ReadOnlySpan<float>(q, d).CopyTo(new Span<float>(qHat, d));
                            }

                            if (s.Sequence == 1)
                            {
                                DecodeScores(q, qHat, cached, keys, length, old, d, s.Threshold, delta, changed, stats);
                            }

                            for (int j = 0; j < length; j++)
                            {
                                weights[j] = (s.Sequence == 1 && j < old ? cached[j] : Dot(q, keys + ((long)j * d), d)) * scale;
                            }

                            float* target = output + ((((long)b * s.Sequence) + t) * s.Heads * d) + ((long)h * d);
                            WeightedValues(weights.AsSpan(0, length), values, target, d);
                            if (s.Sequence > 1 && t == s.Sequence - 1)
                            {
                                // After a prefill: q̂ is the last query and every old key's score is computed in full.
                                new ReadOnlySpan<float>(q, d).CopyTo(new Span<float>(qHat, d));
                                for (int j = 0; j < old; j++)
                                {
                                    cached[j] = Dot(qHat, keys + ((long)j * d), d);
                                }
                            }
                        }
                    }
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(rotated);
            ArrayPool<float>.Shared.Return(weights);
            ArrayPool<float>.Shared.Return(delta);
            ArrayPool<int>.Shared.Return(changed);
        }
    }

    /// <summary>
    /// A decode step's work on the old keys: the query's changes beyond the threshold applied to q̂ and to the cached
    /// scores of the keys that were old before this step, then the key that has just aged out of the window scored
    /// against the updated q̂.
    /// </summary>
    private static void DecodeScores(float* q, float* qHat, float* cached, float* keys, int length, int old, int d, float threshold, float[] delta, int[] changed, long* stats)
    {
        double squares = 0;
        for (int i = 0; i < d; i++)
        {
            squares += (double)q[i] * q[i];
        }

        float limit = threshold * (float)Math.Sqrt(squares / d);
        int count = 0;
        for (int i = 0; i < d; i++)
        {
            float change = q[i] - qHat[i];
            if (change != 0 && MathF.Abs(change) > limit)
            {
                delta[count] = change;
                changed[count++] = i;
                qHat[i] = q[i];
            }
        }

        // Keys old before this step: the previous step's window started one position earlier.
        int before = Math.Max(0, old - 1);
        for (int j = 0; j < before; j++)
        {
            float* k = keys + ((long)j * d);
            float sum = 0;
            for (int c = 0; c < count; c++)
            {
                sum += delta[c] * k[changed[c]];
            }

            cached[j] += sum;
        }

        for (int j = before; j < old; j++)
        {
            cached[j] = Dot(qHat, keys + ((long)j * d), d);
        }

        stats[0] += (long)(d - count) * before;
        stats[1] += (long)d * length;
    }

    private static void Rotate(float* x, float* target, float* cos, float* sin, int position, int half)
    {
        float* c = cos + ((long)position * half);
        float* s = sin + ((long)position * half);
        for (int i = 0; i < half; i++)
        {
            float a = x[i], b = x[i + half];
            target[i] = (a * c[i]) - (b * s[i]);
            target[i + half] = (b * c[i]) + (a * s[i]);
        }
    }

    private static float Dot(float* a, float* b, int d) =>
        System.Numerics.Tensors.TensorPrimitives.Dot(new ReadOnlySpan<float>(a, d), new ReadOnlySpan<float>(b, d));

    /// <summary>softmax(scores) · values into target.</summary>
    private static void WeightedValues(Span<float> scores, float* values, float* target, int d)
    {
        float max = float.NegativeInfinity;
        foreach (float score in scores)
        {
            max = MathF.Max(max, score);
        }

        float sum = 0;
        for (int j = 0; j < scores.Length; j++)
        {
            scores[j] = MathF.Exp(scores[j] - max);
            sum += scores[j];
        }

        var result = new Span<float>(target, d);
        result.Clear();
        for (int j = 0; j < scores.Length; j++)
        {
            System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(values + ((long)j * d), d), scores[j] / sum, result, result);
        }
    }
}
