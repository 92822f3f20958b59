using EdgeRuntime.Protocol;

namespace EdgeRuntime.Inference.Batching;

/// <summary>One validated request that may run in a batch, and where its own result goes.</summary>
internal sealed class BatchMember
{
    /// <summary>
    /// Larger requests run alone: their run already dwarfs its fixed cost, and a batch of them stays well inside one
    /// pooled array.
    /// </summary>
    public const int MaxPayloadBytes = 4 * 1024 * 1024;

    private BatchMember(InferRequest request, ReadOnlyMemory<byte> payload, long rows, long enqueued)
    {
        Request = request;
        Payload = payload;
        Rows = rows;
        Enqueued = enqueued;
    }

    public InferRequest Request { get; }

    public ReadOnlyMemory<byte> Payload { get; }

    /// <summary>Its length along the batch axis (the same for each batched input).</summary>
    public long Rows { get; }

    /// <summary>Stopwatch timestamp of its arrival in the queue.</summary>
    public long Enqueued { get; }

    /// <summary>Its queue place, given up when the batch it is in starts.</summary>
    public InferenceScheduler.QueuePlace? Place { get; set; }

    /// <summary>Completed by the leader that runs the batch (continuations never run on the leader's thread).</summary>
    public TaskCompletionSource<InferenceResult> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// A member for <paramref name="request"/>, or null when it must run alone: it reads or writes a shared region
    /// (already in place, nothing to gain), is larger than <see cref="MaxPayloadBytes"/>, has an empty batched input,
    /// or its batched inputs disagree on their row count.
    /// </summary>
    public static BatchMember? TryCreate(BatchPlan plan, InferRequest request, ReadOnlyMemory<byte> payload, long enqueued)
    {
        if (request.OutputRegion is not null || payload.Length > MaxPayloadBytes || request.Inputs is not { Length: > 0 } inputs)
        {
            return null;
        }

        long rows = -1;
        foreach (var input in inputs)
        {
            if (input.Region is not null)
            {
                return null;
            }

            int axis = plan.InputAxis(input.Name);
            if (axis < 0)
            {
                continue;
            }

            // An empty tensor has nothing to share a run with, and its row size cannot be told from its length.
            long n = input.Shape[axis];
            if (input.Shape.Contains(0) || (rows >= 0 && n != rows))
            {
                return null;
            }

            rows = n;
        }

        return rows > 0 ? new BatchMember(request, payload, rows, enqueued) : null;
    }

    /// <summary>
    /// True when this request can run in one batch with <paramref name="leader"/>: the same inputs, dtypes and shapes but
    /// for the batch axis, shared inputs equal byte for byte, and the same outputs asked for.
    /// </summary>
    public bool Matches(BatchMember leader, BatchPlan plan)
    {
        var mine = Request.Inputs;
        var theirs = leader.Request.Inputs;
        if (mine.Length != theirs.Length || !SameOutputs(Request.Outputs, leader.Request.Outputs))
        {
            return false;
        }

        foreach (var their in theirs)
        {
            var my = Find(mine, their.Name);
            long[] myShape = my?.Shape ?? [];
            long[] theirShape = their.Shape ?? [];
            if (my is null || my.Dtype != their.Dtype || myShape.Length != theirShape.Length)
            {
                return false;
            }

            int axis = plan.InputAxis(their.Name);
            for (int d = 0; d < myShape.Length; d++)
            {
                if (d != axis && myShape[d] != theirShape[d])
                {
                    return false;
                }
            }

            if (axis < 0 && !Bytes(this, my).SequenceEqual(Bytes(leader, their)))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The bytes of one of this request's inputs.</summary>
    public ReadOnlySpan<byte> Bytes(TensorDescriptor input) => Bytes(this, input);

    private static ReadOnlySpan<byte> Bytes(BatchMember member, TensorDescriptor input) =>
        member.Payload.Span.Slice((int)input.Offset, (int)input.Length);

    public static TensorDescriptor? Find(IReadOnlyList<TensorDescriptor> inputs, string name)
    {
        foreach (var input in inputs)
        {
            if (input.Name == name)
            {
                return input;
            }
        }

        return null;
    }

    private static bool SameOutputs(IReadOnlyList<string>? a, IReadOnlyList<string>? b)
    {
        if (a is null || b is null)
        {
            return a is null && b is null;
        }

        return a.SequenceEqual(b, StringComparer.Ordinal);
    }
}
