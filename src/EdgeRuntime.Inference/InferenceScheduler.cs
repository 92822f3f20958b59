using System.Diagnostics;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Inference;

/// <summary>
/// Admits requests into a bounded queue and runs at most <see cref="InferenceOptions.EffectiveWorkers"/> of them at
/// once. When a worker slot is free the request runs on the caller's thread (for a lone request, the connection's
/// receive thread): no hand-off, which on a small board costs more than a small model's inference. A request that had
/// to wait resumes on a thread-pool thread. When the queue is full, submitters wait (back-pressure).
/// </summary>
public sealed class InferenceScheduler : IDisposable
{
    private readonly SemaphoreSlim _admission;
    private readonly SemaphoreSlim _workers;
    private int _waiting;
    private int _running;
    private long _lastProgress = Stopwatch.GetTimestamp();

    public InferenceScheduler(InferenceOptions options)
    {
        int workers = options.EffectiveWorkers;
        int capacity = Math.Max(1, options.QueueCapacity) + workers;
        _admission = new SemaphoreSlim(capacity, capacity);
        _workers = new SemaphoreSlim(workers, workers);
    }

    /// <summary>Requests waiting right now, for admission or for a worker slot.</summary>
    public int Depth => Volatile.Read(ref _waiting);

    /// <summary>
    /// True when requests are running but none has started or finished for <paramref name="limit"/>: inference is
    /// stuck (a wedged GPU/NPU driver, say). The systemd watchdog stops pinging then, and systemd restarts edged.
    /// </summary>
    public bool IsStalled(TimeSpan limit) =>
        Volatile.Read(ref _running) > 0 && Stopwatch.GetElapsedTime(Volatile.Read(ref _lastProgress)) > limit;

    /// <summary>
    /// Validates one request, waits for a worker slot and runs it. The caller keeps <paramref name="payload"/> alive
    /// and unchanged until the task completes. Failures surface as <see cref="EdgeRuntimeException"/>.
    /// </summary>
    public async ValueTask<InferenceResult> RunAsync(ModelRegistry registry, InferRequest request, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
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
                InputValidator.Validate(model, request.Inputs ?? [], payload.Length, request.Outputs);
            }
            catch (EdgeRuntimeException)
            {
                model.Latency.RecordError();
                throw;
            }

            long enqueued = Stopwatch.GetTimestamp();
            Interlocked.Increment(ref _waiting);
            try
            {
                await _admission.WaitAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    await _workers.WaitAsync(cancellationToken).ConfigureAwait(false);
                }
                catch
                {
                    _admission.Release();
                    throw;
                }
            }
            finally
            {
                Interlocked.Decrement(ref _waiting);
            }

            Interlocked.Increment(ref _running);
            Volatile.Write(ref _lastProgress, Stopwatch.GetTimestamp());
            try
            {
                return Execute(model, request, payload, Stopwatch.GetElapsedTime(enqueued).TotalMicroseconds);
            }
            finally
            {
                Volatile.Write(ref _lastProgress, Stopwatch.GetTimestamp());
                Interlocked.Decrement(ref _running);
                _workers.Release();
                _admission.Release();
            }
        }
        finally
        {
            model.Release();
        }
    }

    public void Dispose()
    {
        _admission.Dispose();
        _workers.Dispose();
    }

    private static InferenceResult Execute(LoadedModel model, InferRequest request, ReadOnlyMemory<byte> payload, double queuedUs)
    {
        try
        {
            var result = InferenceRunner.Run(model, request.Inputs, payload, request.Outputs);
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
