using EdgeRuntime.Protocol;
using EdgeRuntime.Sensors;
using EdgeRuntime.Store;

namespace EdgeRuntime.Triggers;

/// <summary>
/// One firing's work: wait until the window's end has been sensed, copy the window out of the sensor's buffer, run
/// the model, write the result to the journal (durable before anyone sees it), then act. A failure anywhere is stored
/// as a result with its error, so a subscriber learns that the trigger fired and why nothing came of it. Window bounds
/// and timings are in ticks of <paramref name="time"/>, the clock the sensors stamp their frames with.
/// </summary>
internal sealed class TriggeredRun(SensorHost sensors, WindowModelRunner runner, ResultJournal journal, TriggerActions actions, Action<string> log, TimeProvider time)
{
    public async Task RunAsync(TriggerRule rule, string cause, long firedTicks, DateTimeOffset firedAt, SemaphoreSlim modelSlots, CancellationToken stop)
    {
        var spec = rule.Config.Run;
        var window = spec.Window;
        CaptureWindow? captured = null;
        RunOutput? output = null;
        string? error = null;
        double captureUs = 0;
        try
        {
            var ring = sensors.Ring(window.Sensor)!;
            var source = sensors.Find(window.Sensor)!;
            double ticksPerMs = time.TimestampFrequency / 1000.0;
            long end = firedTicks + (long)(window.PostMs * ticksPerMs);
            // Post-trigger samples must be sensed first; after a second more than postMs, use what there is.
            await ring.WaitForAsync(end, TimeSpan.FromMilliseconds(window.PostMs + 1000), stop).ConfigureAwait(false);
            float[] samples = ring.Copy(firedTicks - (long)(window.PreMs * ticksPerMs), end, out long first);
            captureUs = time.GetElapsedTime(firedTicks).TotalMicroseconds;
            if (samples.Length == 0)
            {
                throw new InvalidOperationException($"sensor '{window.Sensor}' delivered nothing in the window (is it failed? see edgectl status)");
            }

            int frames = samples.Length / ring.Channels;
            captured = new CaptureWindow(window.Sensor, (first - firedTicks) * 1000.0 / time.TimestampFrequency, frames * 1000 / source.SampleRate, frames, ring.Channels);
            await modelSlots.WaitAsync(stop).ConfigureAwait(false);
            try
            {
                output = await runner.RunAsync(spec, samples, ring.Channels, null, stop).ConfigureAwait(false);
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

        var commit = await StoreAsync(rule, cause, firedAt, firedTicks, captured, output, error, captureUs).ConfigureAwait(false);
        if (error is null)
        {
            rule.Completed();
        }
        else
        {
            rule.Failed();
            log($"trigger {rule.Name}: result {commit.Id} stored with error: {error}");
        }

        if (output is not null)
        {
            double score = output.Summary.Length == 0 ? double.NaN : output.Summary.Max(s => s.Value);
            await actions.RunAsync(rule, score, stop).ConfigureAwait(false);
        }
    }

    private async Task<JournalCommit> StoreAsync(TriggerRule rule, string cause, DateTimeOffset firedAt, long firedTicks, CaptureWindow? window, RunOutput? output, string? error, double captureUs)
    {
        long ran = time.GetTimestamp();
        // Stopping does not cancel this: a result that has been computed is stored.
        return await journal.AppendAsync(rule.Name, (id, storedAt) =>
        {
            long now = time.GetTimestamp();
            var timing = new ResultTiming(
                captureUs,
                output?.QueuedUs ?? 0,
                output?.InferenceUs ?? 0,
                time.GetElapsedTime(ran, now).TotalMicroseconds,
                time.GetElapsedTime(firedTicks, now).TotalMicroseconds);
            var result = new ResultEvent(id, rule.Name, cause, rule.Config.Run.Model, firedAt, storedAt, output?.Outputs ?? [], timing)
            {
                Window = window,
                Error = error,
                Summary = output?.Summary ?? [],
            };
            return ProtocolJson.Serialize(result, ProtocolJsonContext.Default.ResultEvent);
        }, output?.Payload ?? ReadOnlyMemory<byte>.Empty, CancellationToken.None).ConfigureAwait(false);
    }
}
