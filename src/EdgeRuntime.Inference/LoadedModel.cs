using EdgeRuntime.Inference.Batching;
using EdgeRuntime.Inference.Providers;
using EdgeRuntime.Protocol;
using Microsoft.ML.OnnxRuntime;

namespace EdgeRuntime.Inference;

/// <summary>
/// A model with its one ONNX Runtime session, reused by every request. Requests hold a lease; unloading waits for the
/// last lease before the session is disposed, so a Run never sees a disposed session.
/// </summary>
public sealed class LoadedModel
{
    private readonly InferenceSession _session;
    private readonly Lock _gate = new();
    private int _leases;
    private bool _retired;
    private bool _disposed;
    private PlacementReport _placement;
    private int _placementPending;
    private int _activeRuns; // ONNX Runtime runs on the session now
    private bool _profileWanted; // a run succeeded while placement was pending: read its profile when runs pause
    private readonly ManualResetEventSlim _profileRead = new();

    internal LoadedModel(string name, string path, long sizeBytes, InferenceSession session, string[] providers, double loadMs, string[] warnings, PlacementReport placement, bool placementPending)
    {
        Warnings = warnings;
        _placement = placement;
        _placementPending = placementPending ? 1 : 0;
        Name = name;
        Path = path;
        SizeBytes = sizeBytes;
        _session = session;
        Providers = providers;
        LoadMs = loadMs;
        LoadedAt = DateTimeOffset.UtcNow;
        Inputs = Describe(session.InputMetadata, session.InputNames);
        Outputs = Describe(session.OutputMetadata, session.OutputNames);
        OutputNames = [.. session.OutputNames];
    }

    public string Name { get; }

    public string Path { get; }

    public long SizeBytes { get; }

    public string[] Providers { get; }

    public double LoadMs { get; }

    /// <summary>What did not go as the board profile asked (a provider missing, a model declined by the NPU).</summary>
    public string[] Warnings { get; }

    /// <summary>Nodes moved onto our ai.edgeruntime kernels when the model was loaded.</summary>
    public IReadOnlyList<Onnx.RewrittenNode> Rewrites { get; init; } = [];

    public PlacementReport Placement => Volatile.Read(ref _placement);

    public DateTimeOffset LoadedAt { get; }

    public ModelSignature Inputs { get; }

    public ModelSignature Outputs { get; }

    public string[] OutputNames { get; }

    public LatencyRecorder Latency { get; } = new();

    /// <summary>How waiting requests are run together; null when the model was loaded without maxBatch.</summary>
    public BatchPlan? Batching => Batcher?.Plan;

    internal RequestBatcher? Batcher { get; private set; }

    /// <summary>Requests gathered into batches that wait for a worker (0 without batching).</summary>
    public int GatheredRequests => Batcher?.Gathered ?? 0;

    /// <summary>Set once by the registry, before the model is visible to any request.</summary>
    internal void EnableBatching(BatchPlan plan) => Batcher = new RequestBatcher(plan);

    public ModelInfo ToInfo() => new(
        Name,
        Path,
        SizeBytes,
        Providers,
        Inputs.ToSpecs(),
        Outputs.ToSpecs(),
        LoadMs,
        LoadedAt,
        Warnings,
        Placement.Nodes,
        Placement.Note)
    {
        Rewrites = [.. Rewrites.Select(r => new NodeRewrite(r.Name, r.OpType, r.FromDomain, r.Reason))],
        MaxBatch = Batching?.MaxBatch,
    };

    /// <summary>
    /// A run starts on the session (the caller holds a lease). While placement is still unknown and a run has succeeded,
    /// new runs wait until the profile has been read, which happens the moment no run is on the session.
    /// </summary>
    internal void BeginRun()
    {
        while (true)
        {
            if (Volatile.Read(ref _placementPending) == 0)
            {
                Interlocked.Increment(ref _activeRuns);
                return;
            }

            lock (_gate)
            {
                if (_placementPending == 0 || !_profileWanted)
                {
                    Interlocked.Increment(ref _activeRuns);
                    return;
                }
            }

            _profileRead.Wait();
        }
    }

    /// <summary>
    /// A run ended. If the load-time warm-up could not show placement, a successful run's profile does: read once, by
    /// whichever run ends last, with new runs held back meanwhile, so profiling is never ended under a running request.
    /// </summary>
    /// <remarks>
    /// Counted by runs, not leases: a lease is also held by requests that wait in the queue or in a batch, so under
    /// steady load a moment with one lease never came, and ORT profiled every run from then on (Silero VAD, whose
    /// warm-up on zeros fails, ran 3x slower and grew by hundreds of MiB in build.ps1 bench's batched case). Waiting
    /// for a pause in overlapping runs would not do either: with several workers one may never come.
    /// </remarks>
    internal void EndRun(bool succeeded)
    {
        if (Volatile.Read(ref _placementPending) == 0)
        {
            Interlocked.Decrement(ref _activeRuns);
            return;
        }

        lock (_gate)
        {
            _profileWanted |= succeeded;
            if (Interlocked.Decrement(ref _activeRuns) == 0 && _profileWanted && _placementPending == 1)
            {
                Volatile.Write(ref _placement, PlacementProbe.Harvest(_session, "from ORT's profile of the first request; nodes in branches that run did not take are not listed"));
                Volatile.Write(ref _placementPending, 0);
                _profileRead.Set();
            }
        }
    }

    /// <summary>Takes a lease, or returns false when the model is being unloaded.</summary>
    public bool TryAcquire()
    {
        lock (_gate)
        {
            if (_retired)
            {
                return false;
            }

            _leases++;
            return true;
        }
    }

    public void Release()
    {
        bool dispose;
        lock (_gate)
        {
            _leases--;
            dispose = _retired && _leases == 0 && !_disposed;
            _disposed |= dispose;
        }

        if (dispose)
        {
            DisposeSession();
        }
    }

    /// <summary>Refuses new leases and disposes the session once the last one is released.</summary>
    internal void Retire()
    {
        bool dispose;
        lock (_gate)
        {
            _retired = true;
            dispose = _leases == 0 && !_disposed;
            _disposed |= dispose;
        }

        if (dispose)
        {
            DisposeSession();
        }
    }

    private void DisposeSession()
    {
        // A model unloaded before its first request still has profiling on; end it so no profile file is left behind.
        if (Interlocked.Exchange(ref _placementPending, 0) == 1)
        {
            PlacementProbe.Harvest(_session, string.Empty);
            _profileRead.Set();
        }

        _session.Dispose();
    }

    /// <summary>The session, for a caller that holds a lease.</summary>
    internal InferenceSession Session => _session;

    private static ModelSignature Describe(IReadOnlyDictionary<string, NodeMetadata> metadata, IReadOnlyList<string> order)
    {
        var ports = new ModelPort[order.Count];
        for (int i = 0; i < order.Count; i++)
        {
            var node = metadata[order[i]];
            if (!node.IsTensor)
            {
                // Maps and sequences (e.g. a classifier's ZipMap output): described, but not carried by protocol v1.
                ports[i] = new ModelPort(order[i], null, node.OnnxValueType.ToString().ToLowerInvariant(), [], []);
                continue;
            }

            TensorDType? dtype = !node.IsString && ElementTypes.TryToDType(node.ElementDataType, out var known) ? known : null;
            ports[i] = new ModelPort(order[i], dtype, ElementTypes.Describe(node.ElementDataType), Array.ConvertAll(node.Dimensions, d => (long)d), node.SymbolicDimensions ?? []);
        }

        return new ModelSignature(ports);
    }
}
