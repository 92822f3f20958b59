using EdgeRuntime.Protocol;

namespace EdgeRuntime.Sensors;

/// <summary>
/// Runs every sensor and keeps it running. A source that throws (unplugged, driver missing, file gone) is marked
/// failed with the reason, reported as a health problem, and started again after a backoff that doubles from
/// <see cref="InitialBackoff"/> up to <see cref="MaxBackoff"/>; once it opens again it is ok and the backoff resets.
/// Nothing a sensor does can stop the daemon. The host also fills each sensor's pre-trigger ring and passes every
/// frame and edge on to its listeners (the trigger engine).
/// </summary>
public sealed class SensorHost : ISensorObserver, IAsyncDisposable
{
    private readonly Dictionary<string, SensorRuntime> _sensors = new(StringComparer.Ordinal);
    private readonly List<ISensorObserver> _listeners = [];
    private readonly Action<string> _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _running = [];

    /// <param name="timeProvider">
    /// The clock for back-off waits, reading times and the pre-trigger rings. Sources must stamp their frames with the
    /// same clock (<see cref="SensorFactory"/> gives them this one), and the trigger engine reads it from here.
    /// </param>
    public SensorHost(Action<string> log, TimeProvider? timeProvider = null)
    {
        _log = log;
        TimeProvider = timeProvider ?? TimeProvider.System;
    }

    public TimeProvider TimeProvider { get; }

    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromMilliseconds(500);

    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(30);

    public IEnumerable<ISensorSource> Sources => _sensors.Values.Select(s => s.Source);

    /// <summary>
    /// Adds a sensor; bufferMs &gt; 0 keeps that much history for pre-trigger windows. An on-demand source (a camera)
    /// starts paused and captures only while a live reader holds it (<see cref="Acquire"/>).
    /// </summary>
    public void Add(ISensorSource source, double bufferMs, bool onDemand = false)
    {
        if (onDemand && source is not IPausableSource)
        {
            throw new ArgumentException($"Sensor '{source.Name}' ({source.Type}) cannot pause, so it cannot capture on demand.");
        }

        SampleRing? ring = null;
        if (bufferMs > 0)
        {
            if (source.SampleRate <= 0)
            {
                throw new ArgumentException($"Sensor '{source.Name}' delivers events, not samples; it cannot keep a buffer (bufferMs).");
            }

            int frames = Math.Max(1, (int)Math.Ceiling(source.SampleRate * bufferMs / 1000));
            ring = new SampleRing(source.Channels.Count, frames, TimeProvider);
        }

        if (!_sensors.TryAdd(source.Name, new SensorRuntime(source, ring) { OnDemand = onDemand }))
        {
            throw new ArgumentException($"Two sensors are named '{source.Name}'.");
        }

        if (onDemand)
        {
            ((IPausableSource)source).Pause.Close();
        }
    }

    /// <summary>
    /// The sensor's ring, made to hold at least <paramref name="minimumMs"/>: live pipeline runs read the stream from it,
    /// all from the one copy the sensor writes. A ring too small grows in place, keeping what it holds, so whoever
    /// reads it (a trigger's window, a run) goes on reading the same ring.
    /// </summary>
    public SampleRing EnsureRing(string name, double minimumMs)
    {
        var sensor = _sensors[name];
        var source = sensor.Source;
        int frames = Math.Max(4, (int)Math.Ceiling(source.SampleRate * minimumMs / 1000));
        lock (sensor)
        {
            if (sensor.Ring is null)
            {
                sensor.Ring = new SampleRing(source.Channels.Count, frames, TimeProvider);
            }

            sensor.Ring.EnsureCapacity(frames);
            return sensor.Ring;
        }
    }

    /// <summary>
    /// A live reader's hold on a sensor, for as long as it reads. An on-demand camera captures while any hold is
    /// taken and pauses when the last is released.
    /// </summary>
    public IDisposable Acquire(string name)
    {
        var sensor = _sensors[name];
        // The count and the camera's switch change together: a release and an acquire crossing each other must not
        // leave a held camera paused.
        lock (sensor)
        {
            if (++sensor.Readers == 1 && sensor.OnDemand)
            {
                ((IPausableSource)sensor.Source).Pause.Open();
            }
        }

        return new Hold(sensor);
    }

    /// <summary>
    /// A reader found the sensor silent for longer than it could wait: the sensor is "stalled" (a health problem) until
    /// its next frame.
    /// </summary>
    public void ReportStalled(string name, string message)
    {
        var sensor = _sensors[name];
        if (sensor.State == "ok")
        {
            sensor.SetState("stalled", message);
            _log($"sensor {name}: stalled: {message}");
        }
    }

    /// <summary>The sensor's state now: ok, starting, failed (with why), stopped or paused.</summary>
    public (string State, string? Message) StateOf(string name)
    {
        var sensor = _sensors[name];
        lock (sensor)
        {
            return (sensor.State, sensor.Message);
        }
    }

    private sealed class Hold(SensorRuntime sensor) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) != 0)
            {
                return;
            }

            lock (sensor)
            {
                if (--sensor.Readers == 0 && sensor.OnDemand)
                {
                    ((IPausableSource)sensor.Source).Pause.Close();
                }
            }
        }
    }

    public void AddListener(ISensorObserver listener) => _listeners.Add(listener);

    public ISensorSource? Find(string name) => _sensors.TryGetValue(name, out var s) ? s.Source : null;

    public SampleRing? Ring(string name) => _sensors.TryGetValue(name, out var s) ? s.Ring : null;

    /// <summary>The newest sample of a sensor's channel; false before the first reading.</summary>
    public bool TryGetLatest(string sensor, int channel, out double value)
    {
        value = 0;
        if (!_sensors.TryGetValue(sensor, out var s))
        {
            return false;
        }

        lock (s)
        {
            if (s.Last is null || channel >= s.Last.Length)
            {
                return false;
            }

            value = s.Last[channel];
            return true;
        }
    }

    public void Start()
    {
        foreach (var sensor in _sensors.Values)
        {
            _running.Add(Task.Run(() => SuperviseAsync(sensor, _stop.Token)));
        }
    }

    /// <summary>
    /// Completes once every sensor has opened or failed for the first time, or after <paramref name="timeout"/>: the
    /// daemon waits for this before it opens its socket, so a client's first press or injected value meets live
    /// sensors. Returns the sensors still starting when the time ran out.
    /// </summary>
    public async Task<string[]> WhenSettledAsync(TimeSpan timeout)
    {
        try
        {
            await Task.WhenAll(_sensors.Values.Select(s => s.Settled)).WaitAsync(timeout, TimeProvider).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }

        return [.. _sensors.Values.Where(s => !s.Settled.IsCompleted).Select(s => s.Source.Name)];
    }

    private async Task SuperviseAsync(SensorRuntime sensor, CancellationToken stop)
    {
        var backoff = InitialBackoff;
        while (!stop.IsCancellationRequested)
        {
            sensor.Opened = false;
            Task retry;
            try
            {
                await sensor.Source.RunAsync(this, stop).ConfigureAwait(false);
                sensor.SetState("stopped", "the recording ended (set \"loop\": true to replay it again)");
                sensor.Ring?.Fault(new SensorStreamException(sensor.Source.Name, "stopped: the recording ended"));
                _log($"sensor {sensor.Source.Name}: finished");
                return;
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                sensor.SetState("stopped", null);
                sensor.Ring?.Fault(new SensorStreamException(sensor.Source.Name, "stopped: the daemon is shutting down"));
                return;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                if (sensor.Opened)
                {
                    backoff = InitialBackoff; // it worked for a while: a fresh failure, not the same one again
                }

                // The retry is scheduled before the failure is reported: whoever sees "failed" (health, a test moving a
                // fake clock) knows the back-off is already counting from that moment.
                retry = Task.Delay(backoff, TimeProvider, stop);
                Interlocked.Increment(ref sensor.Failures);
                sensor.SetState("failed", $"{e.Message} (retrying in {backoff.TotalSeconds:0.#} s)");
                sensor.Ring?.Fault(new SensorStreamException(sensor.Source.Name, $"failed: {e.Message}"));
                _log($"sensor {sensor.Source.Name}: failed: {e.Message}; retrying in {backoff.TotalSeconds:0.#} s");
            }

            try
            {
                await retry.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                sensor.SetState("stopped", null);
                return;
            }

            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
        }
    }

    void ISensorObserver.OnOpened(ISensorSource source)
    {
        var sensor = _sensors[source.Name];
        sensor.Opened = true;
        sensor.Ring?.ClearFault();
        if (sensor.State != "ok")
        {
            if (sensor.State == "failed")
            {
                _log($"sensor {source.Name}: recovered");
            }

            sensor.SetState("ok", null);
        }

        foreach (var listener in _listeners)
        {
            listener.OnOpened(source);
        }
    }

    void ISensorObserver.OnFrame(ISensorSource source, in SensorFrame frame)
    {
        var sensor = _sensors[source.Name];
        sensor.Ring?.Write(frame, source.SampleRate);
        if (sensor.State == "stalled")
        {
            sensor.SetState("ok", null);
            _log($"sensor {source.Name}: delivering again");
        }

        var span = frame.Samples.Span;
        lock (sensor)
        {
            sensor.Last ??= new float[frame.Channels];
            if (sensor.Last.Length == frame.Channels && span.Length >= frame.Channels)
            {
                span[^frame.Channels..].CopyTo(sensor.Last);
            }

            sensor.Readings += frame.Count;
            sensor.LastAt = TimeProvider.GetUtcNow();
        }

        foreach (var listener in _listeners)
        {
            listener.OnFrame(source, frame);
        }
    }

    void ISensorObserver.OnEdge(ISensorSource source, GpioEdge edge)
    {
        var sensor = _sensors[source.Name];
        lock (sensor)
        {
            sensor.Last ??= new float[1];
            sensor.Last[0] = edge.Rising ? 1 : 0;
            sensor.Readings++;
            sensor.LastAt = TimeProvider.GetUtcNow();
        }

        foreach (var listener in _listeners)
        {
            listener.OnEdge(source, edge);
        }
    }

    /// <summary>Every sensor's state for health and edgectl status. Wide sensors (images) report their mean, not every pixel.</summary>
    public SensorStatus[] Status() => [.. _sensors.Values.Select(s => s.Snapshot())];

    /// <summary>"sensor X: why" for every sensor that is failed, or stalled (silent while a live run waited), right now.</summary>
    public string[] Problems() =>
        [.. _sensors.Values.Where(s => s.State is "failed" or "stalled").Select(s => $"sensor {s.Source.Name}: {s.Message}")];

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            // Wall time on purpose: this bounds how long stopping takes (systemd's stop timeout is wall time), and a
            // fake clock that nobody moves must not turn a stuck sensor into a hung shutdown.
            await Task.WhenAll(_running).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            _log("sensors: a sensor did not stop within 5 s");
        }

        _stop.Dispose();
    }

    private sealed class SensorRuntime(ISensorSource source, SampleRing? ring)
    {
        public long Failures;

        public ISensorSource Source { get; } = source;

        public volatile SampleRing? Ring = ring;

        public int Readers;

        public bool OnDemand { get; init; }

        private readonly TaskCompletionSource _settled = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public volatile bool Opened;

        public string State { get; private set; } = "starting";

        /// <summary>Completes at the first state after "starting" (ok, failed or stopped).</summary>
        public Task Settled => _settled.Task;

        public string? Message { get; private set; }

        public float[]? Last { get; set; }

        public DateTimeOffset? LastAt { get; set; }

        public long Readings { get; set; }

        public void SetState(string state, string? message)
        {
            lock (this)
            {
                State = state;
                Message = message;
            }

            _settled.TrySetResult();
        }

        public SensorStatus Snapshot()
        {
            lock (this)
            {
                // Non-finite readings (a replayed "nan") are left out: JSON has no NaN, and health must always answer.
                SensorValue[] last = Last is null ? []
                    : Last.Length <= 8 ? [.. Last.Select((v, i) => new SensorValue(Source.Channels.Count > i ? Source.Channels[i] : $"c{i}", v)).Where(v => double.IsFinite(v.Value))]
                    : [.. new[] { new SensorValue("mean", Last.Average()) }.Where(v => double.IsFinite(v.Value))];
                var pause = OnDemand ? ((IPausableSource)Source).Pause : null;
                string state = State == "ok" && pause is { IsPaused: true } ? "paused" : State;
                return new SensorStatus(Source.Name, Source.Type, state, last, Readings, Interlocked.Read(ref Failures))
                {
                    Message = Message,
                    LastReadingAt = LastAt,
                    PausedSeconds = pause is null ? null : Math.Round(pause.PausedTotal.TotalSeconds, 3),
                    Readers = Volatile.Read(ref Readers),
                };
            }
        }
    }
}
