using System.Diagnostics;
using EdgeRuntime.Inference.Batching;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Inference;

/// <summary>
/// Admits requests into a bounded queue and runs at most <see cref="InferenceOptions.EffectiveWorkers"/> of them at
/// once. When a worker slot is free the request runs on the caller's thread (for a lone request, the connection's
/// receive thread): no hand-off, which on a small board costs more than a small model's inference. A request that had
/// to wait resumes on a thread-pool thread.
/// </summary>
/// <remarks>
/// The queue holds <see cref="InferenceOptions.QueueCapacity"/> requests besides the running ones. A caller takes its
/// place with <see cref="EnterAsync"/> before it has read the request's bytes (the socket server does so before it
/// copies a frame), so when the queue is full the server stops reading and clients are held back in their own socket
/// buffers instead of in daemon memory.
/// </remarks>
public sealed class InferenceScheduler : IDisposable
{
    private readonly SemaphoreSlim _places;
    private readonly SemaphoreSlim _workers;
    private readonly CancellationTokenSource _stopped = new();
    private int _queued;
    private int _running;
    private long _lastProgress = Stopwatch.GetTimestamp();

    public InferenceScheduler(InferenceOptions options)
    {
        int workers = options.EffectiveWorkers;
        int capacity = Math.Max(1, options.QueueCapacity);
        _places = new SemaphoreSlim(capacity, capacity);
        _workers = new SemaphoreSlim(workers, workers);
    }

    /// <summary>Requests holding a place in the queue and waiting for a worker; never more than the queue capacity.</summary>
    public int Depth => Volatile.Read(ref _queued);

    /// <summary>
    /// True when requests are running but none has started or finished for <paramref name="limit"/>: inference is
    /// stuck (a wedged GPU/NPU driver, say). The systemd watchdog stops pinging then, and systemd restarts edged.
    /// </summary>
    public bool IsStalled(TimeSpan limit) =>
        Volatile.Read(ref _running) > 0 && Stopwatch.GetElapsedTime(Volatile.Read(ref _lastProgress)) > limit;

    /// <summary>
    /// Waits for a place in the queue. The place is the caller's until it is disposed or handed to
    /// <see cref="RunAsync"/>, which gives it up as soon as the request has a worker. After <see cref="Dispose"/> this
    /// refuses with shutting_down.
    /// </summary>
    public async ValueTask<QueuePlace> EnterAsync(CancellationToken cancellationToken = default)
    {
        using var linked = WithStop(cancellationToken, out var token);
        try
        {
            await _places.WaitAsync(token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_stopped.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw Stopping();
        }

        Interlocked.Increment(ref _queued);
        return new QueuePlace(this);
    }

    /// <summary>The caller's token joined with the scheduler's stop; no allocation when the caller cannot cancel.</summary>
    private CancellationTokenSource? WithStop(CancellationToken cancellationToken, out CancellationToken token)
    {
        if (!cancellationToken.CanBeCanceled)
        {
            token = _stopped.Token;
            return null;
        }

        var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopped.Token);
        token = linked.Token;
        return linked;
    }

    private static EdgeRuntimeException Stopping() =>
        new(ErrorCodes.ShuttingDown, "The daemon is stopping; the request was not run.");

    /// <summary>
    /// Validates one request, waits for a worker slot and runs it. The caller keeps <paramref name="payload"/> alive
    /// and unchanged until the task completes. Failures surface as <see cref="EdgeRuntimeException"/>.
    /// </summary>
    /// <param name="place">
    /// A place the caller took with <see cref="EnterAsync"/>; it is given up when this returns. Null: one is taken here.
    /// </param>
    /// <param name="regions">The shared regions the request may name, held by the caller until this completes.</param>
    /// <param name="mayBlockThread">
    /// The calling thread is its connection's own and has nothing else to do until this request has run: wait for a
    /// worker on it rather than resume on a thread-pool thread afterwards.
    /// </param>
    public async ValueTask<InferenceResult> RunAsync(ModelRegistry registry, InferRequest request, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default, QueuePlace? place = null, ITensorRegions? regions = null, bool mayBlockThread = false)
    {
        try
        {
            if (string.IsNullOrEmpty(request.Model))
            {
                throw new EdgeRuntimeException(ErrorCodes.BadRequest, "Infer needs the name of a loaded model in 'model'.");
            }

            var model = registry.Acquire(request.Model);
            try
            {
                try
                {
                    InputValidator.Validate(model, request.Inputs ?? [], payload.Length, request.Outputs, regions, request.OutputRegion);
                }
                catch (EdgeRuntimeException)
                {
                    model.Latency.RecordError();
                    throw;
                }

                long enqueued = Stopwatch.GetTimestamp();
                place ??= await EnterAsync(cancellationToken).ConfigureAwait(false);
                if (model.Batcher is { } batcher && BatchMember.TryCreate(batcher.Plan, request, payload, enqueued) is { } member)
                {
                    member.Place = place;
                    return await RunBatchedAsync(model, batcher, member, mayBlockThread).ConfigureAwait(false);
                }

                using var linked = WithStop(cancellationToken, out var token);
                await WaitForAsync(_workers, cancellationToken, token, mayBlockThread).ConfigureAwait(false);

                place.StartRunning();
                Interlocked.Increment(ref _running);
                Volatile.Write(ref _lastProgress, Stopwatch.GetTimestamp());
                try
                {
                    return Execute(model, request, payload, regions, Stopwatch.GetElapsedTime(enqueued).TotalMicroseconds);
                }
                finally
                {
                    Volatile.Write(ref _lastProgress, Stopwatch.GetTimestamp());
                    Interlocked.Decrement(ref _running);
                    _workers.Release();
                }
            }
            finally
            {
                model.Release();
            }
        }
        finally
        {
            place?.Dispose();
        }
    }

    /// <summary>Takes a worker slot, refusing with shutting_down when the daemon stops.</summary>
    private async ValueTask WaitForAsync(SemaphoreSlim slots, CancellationToken cancellationToken, CancellationToken token, bool mayBlockThread)
    {
        try
        {
            if (mayBlockThread)
            {
                // The hand-off to a pool thread after an async wait costs more CPU than the wait on small,
                // virtualised cores (a same-run comparison in build.ps1 bench, issue 18).
                slots.Wait(token);
            }
            else
            {
                await slots.WaitAsync(token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (_stopped.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw Stopping();
        }
    }

    /// <summary>
    /// Joins a batch and waits for its leader to run it, or leads one: waits for the model's turn (one batch of a model
    /// runs at a time, so requests arriving meanwhile gather for the next) and a worker, then runs every request that
    /// joined in one ONNX Runtime run and hands each its own result. A lone request finds both free and runs at once.
    /// </summary>
    /// <remarks>
    /// Only the daemon's stop ends the wait, not the caller's cancellation: a leader's requests belong to other clients
    /// too, and one caller giving up must not fail them (a follower cannot leave the batch it joined either).
    /// </remarks>
    private async Task<InferenceResult> RunBatchedAsync(LoadedModel model, RequestBatcher batcher, BatchMember member, bool mayBlockThread)
    {
        var token = _stopped.Token;
        if (batcher.TryJoin(member, out var batch))
        {
            // A connection's own thread has nothing else to do: it waits here and sends the answer itself.
            return mayBlockThread ? member.Completion.Task.GetAwaiter().GetResult() : await member.Completion.Task.ConfigureAwait(false);
        }

        bool haveTurn = false;
        try
        {
            try
            {
                await batcher.Turn.EnterAsync(mayBlockThread, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_stopped.IsCancellationRequested)
            {
                throw Stopping();
            }

            haveTurn = true;
            await WaitForAsync(_workers, CancellationToken.None, token, mayBlockThread).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            if (haveTurn)
            {
                batcher.Turn.Exit();
            }

            FailFollowers(batcher.Close(batch), e);
            throw;
        }

        var members = batcher.Close(batch);
        foreach (var joined in members)
        {
            joined.Place?.StartRunning();
        }

        Interlocked.Increment(ref _running);
        Volatile.Write(ref _lastProgress, Stopwatch.GetTimestamp());
        try
        {
            if (members.Length == 1)
            {
                return Execute(model, member.Request, member.Payload, null, Stopwatch.GetElapsedTime(member.Enqueued).TotalMicroseconds);
            }

            InferenceResult[] results;
            try
            {
                results = ExecuteBatch(model, batcher.Plan, members);
            }
            catch (Exception e)
            {
                FailFollowers(members, e);
                throw;
            }

            for (int i = 1; i < members.Length; i++)
            {
                members[i].Completion.SetResult(results[i]);
            }

            return results[0];
        }
        finally
        {
            Volatile.Write(ref _lastProgress, Stopwatch.GetTimestamp());
            Interlocked.Decrement(ref _running);
            _workers.Release();
            batcher.Turn.Exit();
        }
    }

    /// <summary>Every member but the leader gets its own copy of the leader's error (each is thrown on its own thread).</summary>
    private static void FailFollowers(BatchMember[] members, Exception error)
    {
        for (int i = 1; i < members.Length; i++)
        {
            members[i].Completion.SetException(error is EdgeRuntimeException edge
                ? new EdgeRuntimeException(edge.Code, edge.Message, edge)
                : new EdgeRuntimeException(ErrorCodes.InferenceFailed, $"The batch this request ran in failed: {error.Message}", error));
        }
    }

    private static InferenceResult[] ExecuteBatch(LoadedModel model, BatchPlan plan, BatchMember[] members)
    {
        try
        {
            var results = BatchRunner.Run(model, plan, members);
            long now = Stopwatch.GetTimestamp();
            for (int i = 0; i < results.Length; i++)
            {
                results[i].QueuedUs = Stopwatch.GetElapsedTime(members[i].Enqueued, now).TotalMicroseconds - results[i].InferenceUs;
                model.Latency.RecordSuccess(results[i].QueuedUs + results[i].InferenceUs);
            }

            return results;
        }
        catch (EdgeRuntimeException)
        {
            RecordErrors(model, members.Length);
            throw;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            RecordErrors(model, members.Length);
            throw new EdgeRuntimeException(ErrorCodes.InferenceFailed, $"Model '{model.Name}' failed on a batch of {members.Length} requests: {e.Message}", e);
        }
    }

    private static void RecordErrors(LoadedModel model, int count)
    {
        for (int i = 0; i < count; i++)
        {
            model.Latency.RecordError();
        }
    }

    /// <summary>
    /// Refuses new places and wakes every request still waiting with shutting_down; running requests finish. The
    /// semaphores are not disposed: a request finishing after the daemon's stop still releases them safely.
    /// </summary>
    public void Dispose() => _stopped.Cancel();

    /// <summary>
    /// A place in the queue, held while the request waits for a worker and given up (once) when it starts running or
    /// is disposed. The count is lowered before the place is released, so <see cref="Depth"/> never exceeds capacity.
    /// </summary>
    public sealed class QueuePlace : IDisposable
    {
        private InferenceScheduler? _owner;

        internal QueuePlace(InferenceScheduler owner) => _owner = owner;

        /// <summary>The request has its worker: its place goes to the next request waiting to enter.</summary>
        internal void StartRunning() => Dispose();

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _owner, null) is { } owner)
            {
                Interlocked.Decrement(ref owner._queued);
                owner._places.Release();
            }
        }
    }

    private static InferenceResult Execute(LoadedModel model, InferRequest request, ReadOnlyMemory<byte> payload, ITensorRegions? regions, double queuedUs)
    {
        try
        {
            var result = InferenceRunner.Run(model, request.Inputs, payload, request.Outputs, regions, request.OutputRegion);
            result.QueuedUs = queuedUs;
            model.Latency.RecordSuccess(queuedUs + result.InferenceUs);
            return result;
        }
        catch (EdgeRuntimeException)
        {
            model.Latency.RecordError();
            throw;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Whatever a model throws, the requester gets an error and the daemon goes on.
            model.Latency.RecordError();
            throw new EdgeRuntimeException(ErrorCodes.InferenceFailed, $"Model '{model.Name}' failed: {e.Message}", e);
        }
    }
}
