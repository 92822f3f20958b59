using EdgeRuntime.Kernels.Attention;

namespace EdgeRuntime.Kernels.Ort;

/// <summary>
/// ai.edgeruntime::DeltaAttention, <see cref="DeltaAttention"/> in a decoder graph where GroupQueryAttention would be,
/// with the same first nine inputs: query, key, value [batch, sequence, ·], past_key, past_value [batch, kvHeads,
/// capacity, headDim], seqlens_k int32 [batch], total_sequence_length int32, cos_cache, sin_cache [positions, headDim/2];
/// then the delta state: past_delta_query [batch, heads, headDim], past_delta_scores [batch, heads, capacity],
/// past_delta_stats int64 [2]. Outputs: the attention [batch, sequence, heads · headDim], then present_key,
/// present_value, present_delta_query, present_delta_scores, present_delta_stats, each the same shape as its past.
/// Like GroupQueryAttention with shared buffers, a present bound to its past's memory is updated in place; otherwise
/// the past is copied first. Attributes: num_heads, kv_num_heads, window (positions attended exactly, at least 1),
/// threshold (float, ≥ 0).
/// </summary>
internal sealed unsafe class DeltaAttentionOp : CustomOp
{
    public override string Name => "DeltaAttention";

    public override int[] InputTypes { get; } =
    [
        OrtElementType.Float, OrtElementType.Float, OrtElementType.Float, OrtElementType.Float, OrtElementType.Float,
        OrtElementType.Int32, OrtElementType.Int32, OrtElementType.Float, OrtElementType.Float,
        OrtElementType.Float, OrtElementType.Float, OrtElementType.Int64,
    ];

    public override int[] OutputTypes { get; } =
    [
        OrtElementType.Float, OrtElementType.Float, OrtElementType.Float, OrtElementType.Float, OrtElementType.Float, OrtElementType.Int64,
    ];

    public override OpKernel CreateKernel(KernelInfo info)
    {
        int heads = checked((int)info.RequiredInt64("num_heads"));
        int kvHeads = checked((int)info.RequiredInt64("kv_num_heads"));
        int window = checked((int)info.RequiredInt64("window"));
        float threshold = info.Float("threshold", 0);
        if (heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0)
        {
            throw new ArgumentException($"num_heads ({heads}) must be a positive multiple of kv_num_heads ({kvHeads}).");
        }

        if (window < 1 || !(threshold >= 0) || !float.IsFinite(threshold))
        {
            throw new ArgumentException($"window must be at least 1 (it is {window}) and threshold finite and not negative (it is {threshold}).");
        }

        return new Kernel(heads, kvHeads, window, threshold);
    }

    private sealed class Kernel(int heads, int kvHeads, int window, float threshold) : OpKernel
    {
        public override void Compute(KernelContext context)
        {
            var query = context.Input(0);
            var key = context.Input(1);
            var value = context.Input(2);
            var pastKey = context.Input(3);
            var pastValue = context.Input(4);
            var lastPositions = context.Input(5);
            var cos = context.Input(7);
            var sin = context.Input(8);
            var pastReference = context.Input(9);
            var pastScores = context.Input(10);
            var pastStats = context.Input(11);
            if (query.Shape.Length != 3 || pastKey.Shape.Length != 4 || cos.Shape.Length != 2)
            {
                throw new ArgumentException("query must be [batch, sequence, heads·headDim], past_key [batch, kvHeads, capacity, headDim] and cos_cache [positions, headDim/2].");
            }

            int batch = checked((int)query.Shape[0]);
            int sequence = checked((int)query.Shape[1]);
            int headDim = checked((int)pastKey.Shape[3]);
            int capacity = checked((int)pastKey.Shape[2]);
            var shape = new DeltaAttentionShape(batch, sequence, heads, kvHeads, headDim, capacity, window, threshold);
            if (query.Shape[2] != (long)heads * headDim || key.ElementCount != (long)batch * sequence * kvHeads * headDim
                || value.ElementCount != key.ElementCount || pastKey.Shape[1] != kvHeads || pastValue.ElementCount != pastKey.ElementCount
                || lastPositions.ElementCount != batch || cos.Shape[1] * 2 != headDim || sin.ElementCount != cos.ElementCount
                || pastReference.ElementCount != (long)batch * heads * headDim || pastScores.ElementCount != (long)batch * heads * capacity
                || pastStats.ElementCount != 2 || pastKey.Shape[0] != batch)
            {
                throw new ArgumentException($"DeltaAttention's inputs do not agree with {heads} query and {kvHeads} key/value heads of {headDim}, batch {batch}, capacity {capacity}.");
            }

            var output = context.Output(0, query.Shape);
            var keys = InPlace(context, 1, pastKey);
            var values = InPlace(context, 2, pastValue);
            var reference = InPlace(context, 3, pastReference);
            var scores = InPlace(context, 4, pastScores);
            var stats = InPlace(context, 5, pastStats);
            DeltaAttention.Compute(
                shape, (float*)query.Data, (float*)key.Data, (float*)value.Data, (float*)keys.Data, (float*)values.Data, (int*)lastPositions.Data,
                (float*)cos.Data, (float*)sin.Data, checked((int)cos.Shape[0]), (float*)reference.Data, (float*)scores.Data, (long*)stats.Data, (float*)output.Data);
        }

        /// <summary>The present output for a past input: the same memory when bound so, else a copy of the past.</summary>
        private static OrtTensor InPlace(KernelContext context, int output, OrtTensor past)
        {
            var present = context.Output(output, past.Shape);
            if (present.Data != past.Data)
            {
                int size = past.ElementType == OrtElementType.Int64 ? sizeof(long) : sizeof(float);
                Buffer.MemoryCopy(past.Data, present.Data, past.ElementCount * size, past.ElementCount * size);
            }

            return present;
        }
    }
}
