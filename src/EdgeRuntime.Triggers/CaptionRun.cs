using EdgeRuntime.Protocol;
using EdgeRuntime.Sensors;
using EdgeRuntime.Store;

namespace EdgeRuntime.Triggers;

/// <summary>
/// One caption trigger's firing: wait until the camera has a frame taken at or after the firing, take the newest one,
/// caption it with the vision-language model, store the text (durable before anyone sees it), then act. As with
/// <see cref="TriggeredRun"/>, a failure anywhere (no frame, no such model, the engine refusing the picture) is stored
/// as a result with its error. Times are in ticks of <paramref name="time"/>, the clock that stamps the frames.
/// </summary>
internal sealed class CaptionRun(SensorHost sensors, IFrameCaptioner captioner, ResultJournal journal, TriggerActions actions, Action<string> log, TimeProvider time)
{
    /// <summary>Beyond one frame period, how long a firing waits for the camera's next frame before it gives up.</summary>
    public static readonly TimeSpan FrameSlack = TimeSpan.FromSeconds(1);

    public async Task RunAsync(TriggerRule rule, string cause, long firedTicks, DateTimeOffset firedAt, SemaphoreSlim modelSlots, CancellationToken stop)
    {
        var spec = rule.Config.Caption!;
        CaptureWindow? window = null;
        FrameCaption? caption = null;
        string? error = null;
        double captureUs = 0, queuedUs = 0;
        try
        {
            var camera = (ICameraSource)sensors.Find(spec.Sensor)!;
            var (pixels, taken) = await NewestFrameAsync(camera, firedTicks, stop).ConfigureAwait(false);
            captureUs = time.GetElapsedTime(firedTicks).TotalMicroseconds;
            window = new CaptureWindow(spec.Sensor, (taken - firedTicks) * 1000.0 / time.TimestampFrequency, 1000 / camera.SampleRate, 1, pixels.Length);
            float[] grey = CameraFrame.ToGrey255(pixels, camera);
            long waiting = time.GetTimestamp();
            await modelSlots.WaitAsync(stop).ConfigureAwait(false);
            try
            {
                queuedUs = time.GetElapsedTime(waiting).TotalMicroseconds;
                caption = await captioner.CaptionAsync(spec.Model, grey, camera.Height, camera.Width, spec.MaxTokens, stop).ConfigureAwait(false);
            }
            finally
            {
                modelSlots.Release();
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            error = e.Message;
        }

        var commit = await StoreAsync(rule, cause, firedAt, firedTicks, window, caption, error, captureUs, queuedUs).ConfigureAwait(false);
        if (error is null)
        {
            rule.Completed();
            await actions.RunAsync(rule, double.NaN, stop).ConfigureAwait(false); // a caption has no score: minScore is refused at start
        }
        else
        {
            rule.Failed();
            log($"trigger {rule.Name}: result {commit.Id} stored with error: {error}");
        }
    }

    /// <summary>
    /// The newest frame once one taken at or after the firing is in the buffer. The deadline counts from the firing,
    /// not from this call: a run that reached the wait late has had that time already.
    /// </summary>
    private async Task<(float[] Pixels, long Taken)> NewestFrameAsync(ICameraSource camera, long firedTicks, CancellationToken stop)
    {
        var ring = sensors.Ring(camera.Name)!;
        var limit = TimeSpan.FromSeconds(1 / camera.SampleRate) + FrameSlack;
        if (!await ring.WaitForAsync(firedTicks, limit - time.GetElapsedTime(firedTicks), stop).ConfigureAwait(false))
        {
            throw new InvalidOperationException($"camera '{camera.Name}' delivered no frame within {limit.TotalMilliseconds:0} ms of the firing (is it failed or stopped? see edgectl status)");
        }

        return (ring.CopyNewest(out long taken), taken);
    }

    private async Task<JournalCommit> StoreAsync(TriggerRule rule, string cause, DateTimeOffset firedAt, long firedTicks, CaptureWindow? window, FrameCaption? caption, string? error, double captureUs, double queuedUs)
    {
        long ran = time.GetTimestamp();
        // Stopping does not cancel this: a caption that has been made is stored.
        return await journal.AppendAsync(rule.Name, (id, storedAt) =>
        {
            long now = time.GetTimestamp();
            var timing = new ResultTiming(
                captureUs,
                queuedUs,
                (caption?.TotalMs ?? 0) * 1000,
                time.GetElapsedTime(ran, now).TotalMicroseconds,
                time.GetElapsedTime(firedTicks, now).TotalMicroseconds);
            var result = new ResultEvent(id, rule.Name, cause, rule.Config.Caption!.Model, firedAt, storedAt, [], timing)
            {
                Window = window,
                Error = error,
                Caption = caption is null ? null : new CaptionResult(caption.Text, caption.Tokens, caption.FirstTokenMs, caption.TotalMs),
            };
            return ProtocolJson.Serialize(result, ProtocolJsonContext.Default.ResultEvent);
        }, ReadOnlyMemory<byte>.Empty, CancellationToken.None).ConfigureAwait(false);
    }
}
