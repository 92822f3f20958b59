using System.Diagnostics;
using System.Threading.Channels;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Inference;

/// <summary>
/// A bounded queue in front of a fixed set of worker threads. Submitters wait when it is full (back-pressure), so memory
/// stays bounded however many clients push. Workers are dedicated threads because ORT's Run blocks: running it on the
/// thread pool would starve the socket I/O that shares the pool.
/// </summary>
public sealed class InferenceQueue : IDisposable
{
    private readonly Channel<InferenceJob> _channel;
    private readonly Thread[] _workers;
    private int _depth;

    public InferenceQueue(InferenceOptions options)
    {
        _channel = Channel.CreateBounded<InferenceJob>(new BoundedChannelOptions(Math.Max(1, options.QueueCapacity))
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = false,
            SingleWriter = false,
        });
        _workers = new Thread[options.EffectiveWorkers];
        for (int i = 0; i < _workers.Length; i++)
        {
            _workers[i] = new Thread(WorkLoop) { IsBackground = true, Name = $"edged-infer-{i}" };
            _workers[i].Start();
        }
    }

    /// <summary>Requests waiting for a worker right now.</summary>
    public int Depth => Volatile.Read(ref _depth);

    public int Workers => _workers.Length;

    /// <summary>
    /// Validates and queues one request, and completes when it has run. The caller keeps <paramref name="payload"/>
    /// alive and unchanged until then. Failures surface as <see cref="EdgeRuntimeException"/>.
    /// </summary>
    public async Task<InferenceResult> RunAsync(ModelRegistry registry, InferRequest request, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
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

            var job = new InferenceJob(model, request, payload);
            Interlocked.Increment(ref _depth);
            try
            {
                await _channel.Writer.WriteAsync(job, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                Interlocked.Decrement(ref _depth);
                throw;
            }

            return await job.Completion.ConfigureAwait(false);
        }
        finally
        {
            model.Release();
        }
    }

    public void Dispose()
    {
        _channel.Writer.TryComplete();
        foreach (var worker in _workers)
        {
            worker.Join(TimeSpan.FromSeconds(5));
        }
    }

    private void WorkLoop()
    {
        var reader = _channel.Reader;
        while (reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
        {
            while (reader.TryRead(out var job))
            {
                Interlocked.Decrement(ref _depth);
                job.Execute();
            }
        }
    }

    private sealed class InferenceJob(LoadedModel model, InferRequest request, ReadOnlyMemory<byte> payload)
    {
        private readonly TaskCompletionSource<InferenceResult> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly long _enqueued = Stopwatch.GetTimestamp();

        public Task<InferenceResult> Completion => _completion.Task;

        public void Execute()
        {
            double queuedUs = Stopwatch.GetElapsedTime(_enqueued).TotalMicroseconds;
            try
            {
                var result = InferenceRunner.Run(model, request.Inputs, payload, request.Outputs);
                result.QueuedUs = queuedUs;
                model.Latency.RecordSuccess(queuedUs + result.InferenceUs);
                _completion.SetResult(result);
            }
            catch (EdgeRuntimeException e)
            {
                model.Latency.RecordError();
                _completion.SetException(e);
            }
            catch (Exception e)
            {
                // A worker must survive anything a model throws; the requester gets the error instead.
                model.Latency.RecordError();
                _completion.SetException(new EdgeRuntimeException(ErrorCodes.InferenceFailed, $"Model '{model.Name}' failed: {e.Message}", e));
            }
        }
    }
}
