namespace EdgeRuntime.Inference.Batching;

/// <summary>
/// Gathers a model's requests into batches. A request joins the first open batch it matches (same shapes but for the
/// batch axis, same shared inputs, room left) or opens one and leads it: the leader waits for the model's turn and a
/// worker, then runs everyone who joined meanwhile. A lone request finds both free and runs at once, alone, so
/// batching adds no wait to it.
/// </summary>
/// <remarks>
/// One batch of a model runs at a time (Triton's dynamic batcher in front of one model instance): while it runs, the
/// requests that arrive gather into the next. Letting every worker run its own small batch instead kept batches near
/// one request on a 2-core board, where the runs and the sockets share the cores (build.ps1 bench, issue 18).
/// </remarks>
internal sealed class RequestBatcher(BatchPlan plan)
{
    private readonly Lock _gate = new();
    private readonly List<List<BatchMember>> _open = []; // batches whose leaders wait for a worker, oldest first

    public BatchPlan Plan { get; } = plan;

    /// <summary>Held by the leader whose batch runs now; handed on in the order leaders asked.</summary>
    public FairTurn Turn { get; } = new();

    /// <summary>Requests in open batches: gathered, waiting for their leader's worker.</summary>
    public int Gathered
    {
        get
        {
            lock (_gate)
            {
                return _open.Sum(batch => batch.Count);
            }
        }
    }

    /// <summary>Joins an open batch <paramref name="member"/> fits (true); otherwise opens one it leads (false).</summary>
    public bool TryJoin(BatchMember member, out List<BatchMember> batch)
    {
        lock (_gate)
        {
            foreach (var open in _open)
            {
                if (open.Count < Plan.MaxBatch && member.Matches(open[0], Plan))
                {
                    open.Add(member);
                    batch = open;
                    return true;
                }
            }

            batch = [member];
            _open.Add(batch);
            return false;
        }
    }

    /// <summary>The leader has its worker (or gives up): no one joins <paramref name="batch"/> any more.</summary>
    public BatchMember[] Close(List<BatchMember> batch)
    {
        lock (_gate)
        {
            _open.Remove(batch);
            return [.. batch];
        }
    }
}
