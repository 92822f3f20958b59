namespace EdgeRuntime.Sensors;

/// <summary>
/// The pre-trigger buffer: the last N frames of a stream (audio samples, IMU readings, camera images), each with the
/// time it was taken, so a trigger can ask for "500 ms before the edge until 200 ms after" and get exactly the frames
/// taken in that span. Fixed memory; the oldest frames are overwritten.
/// </summary>
public sealed class SampleRing
{
    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private float[] _values; // grown in place (EnsureCapacity), so every holder of the ring keeps reading the one copy
    private long[] _times;
    private long _written; // frames ever written
    private TaskCompletionSource? _newer; // created only while someone waits for newer frames
    private readonly List<(long Count, TaskCompletionSource Done)> _countWaiters = []; // live readers, woken only when their frames are in
    private Exception? _fault; // the sensor failed or stopped: readers waiting for frames that will not come get this

    /// <param name="timeProvider">
    /// The clock the frames' timestamps come from (its TimestampFrequency spaces the frames of a block) and that
    /// <see cref="WaitForAsync"/> times out by; the sensor host passes its own, so sources, ring and triggers agree.
    /// </param>
    public SampleRing(int channels, int capacityFrames, TimeProvider? timeProvider = null)
    {
        _time = timeProvider ?? TimeProvider.System;
        ArgumentOutOfRangeException.ThrowIfLessThan(channels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacityFrames, 1);
        Channels = channels;
        Capacity = capacityFrames;
        _values = new float[channels * capacityFrames];
        _times = new long[capacityFrames];
    }

    public int Channels { get; }

    public int Capacity { get; private set; }

    /// <summary>
    /// Makes the ring hold at least <paramref name="frames"/>, keeping what it holds: a live pipeline loaded later than
    /// a trigger that reads this ring makes it larger, and both go on reading the same ring.
    /// </summary>
    public void EnsureCapacity(int frames)
    {
        lock (_gate)
        {
            if (frames <= Capacity)
            {
                return;
            }

            var values = new float[Channels * frames];
            var times = new long[frames];
            for (long i = Math.Max(0, _written - Capacity); i < _written; i++)
            {
                _values.AsSpan((int)(i % Capacity) * Channels, Channels).CopyTo(values.AsSpan((int)(i % frames) * Channels));
                times[i % frames] = _times[i % Capacity];
            }

            (_values, _times, Capacity) = (values, times, frames);
        }
    }

    /// <summary>Frames ever written: the index the next frame will get. Frame i is retained while i ≥ Written − Capacity.</summary>
    public long Written
    {
        get
        {
            lock (_gate)
            {
                return _written;
            }
        }
    }

    /// <summary>Time of the newest frame (the clock's timestamp ticks); long.MinValue when empty.</summary>
    public long NewestTimestamp
    {
        get
        {
            lock (_gate)
            {
                return _written == 0 ? long.MinValue : _times[(_written - 1) % Capacity];
            }
        }
    }

    /// <summary>
    /// Appends a block. Its frames are spread back from the block's timestamp at <paramref name="sampleRate"/> (the
    /// last frame was taken at the timestamp); a rate of 0 gives every frame the block's time.
    /// </summary>
    public void Write(in SensorFrame frame, double sampleRate)
    {
        if (frame.Channels != Channels)
        {
            throw new ArgumentException($"The ring holds {Channels} channels; the frame has {frame.Channels}.", nameof(frame));
        }

        var samples = frame.Samples.Span;
        int count = frame.Count;
        double ticksPerFrame = sampleRate > 0 ? _time.TimestampFrequency / sampleRate : 0;
        lock (_gate)
        {
            for (int i = 0; i < count; i++)
            {
                int slot = (int)(_written % Capacity);
                samples.Slice(i * Channels, Channels).CopyTo(_values.AsSpan(slot * Channels, Channels));
                _times[slot] = frame.Timestamp - (long)((count - 1 - i) * ticksPerFrame);
                _written++;
            }

            _newer?.TrySetResult();
            _newer = null;
            WakeCountWaiters();
        }
    }

    private void WakeCountWaiters()
    {
        for (int i = _countWaiters.Count - 1; i >= 0; i--)
        {
            if (_countWaiters[i].Count <= _written)
            {
                _countWaiters[i].Done.TrySetResult();
                _countWaiters.RemoveAt(i);
            }
        }
    }

    /// <summary>
    /// Marks the stream broken (its sensor failed or stopped): readers waiting for frames get <paramref name="fault"/>,
    /// as does every wait until <see cref="ClearFault"/>. Frames already in the ring stay readable.
    /// </summary>
    public void Fault(Exception fault)
    {
        lock (_gate)
        {
            _fault = fault;
            foreach (var (_, done) in _countWaiters)
            {
                done.TrySetException(fault);
            }

            _countWaiters.Clear();
        }
    }

    /// <summary>The sensor delivers again (it reopened): waits no longer fail.</summary>
    public void ClearFault()
    {
        lock (_gate)
        {
            _fault = null;
        }
    }

    /// <summary>
    /// Completes once <paramref name="count"/> frames have ever been written (so frame count − 1 is in), or returns
    /// false after <paramref name="timeout"/>; throws the fault if the stream is broken before then. Only a reader whose
    /// frames are in is woken, so a reader waiting for a whole unit costs nothing per block in between.
    /// </summary>
    public async Task<bool> WaitForCountAsync(long count, TimeSpan timeout, CancellationToken cancellationToken)
    {
        Task arrived;
        lock (_gate)
        {
            if (_written >= count)
            {
                return true;
            }

            if (_fault is not null)
            {
                throw _fault;
            }

            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _countWaiters.Add((count, done));
            arrived = done.Task;
        }

        try
        {
            await arrived.WaitAsync(timeout, _time, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            lock (_gate)
            {
                _countWaiters.RemoveAll(w => w.Done.Task == arrived);
            }

            if (e is OperationCanceledException)
            {
                throw;
            }

            return false;
        }
    }

    /// <summary>
    /// The index of the first retained frame taken after <paramref name="timestamp"/>; <see cref="Written"/> (the next
    /// frame to come) when none is. A live run that starts at a moment, or a window before it, begins here.
    /// </summary>
    public long FirstIndexAfter(long timestamp) => FirstIndexAfter(timestamp, out _);

    /// <summary>
    /// As <see cref="FirstIndexAfter(long)"/>; <paramref name="complete"/> is false when frames taken after the moment
    /// have already been overwritten, so a window starting there would begin later than asked.
    /// </summary>
    public long FirstIndexAfter(long timestamp, out bool complete)
    {
        lock (_gate)
        {
            long oldest = Math.Max(0, _written - Capacity);
            for (long i = oldest; i < _written; i++)
            {
                if (_times[i % Capacity] > timestamp)
                {
                    // Frame i is the first after the moment only if nothing before it that was also after is gone.
                    complete = i > oldest || oldest == 0;
                    return i;
                }
            }

            complete = true;
            return _written;
        }
    }

    /// <summary>
    /// Copies frames [first, first + frames) into <paramref name="destination"/> (interleaved by channel) and gives the
    /// time the last of them was taken. Nothing is copied when a frame is not in yet or already overwritten.
    /// </summary>
    public RingRead TryCopy(long first, int frames, Span<float> destination, out long lastTimestamp)
    {
        lastTimestamp = long.MinValue;
        lock (_gate)
        {
            if (first + frames > _written)
            {
                return RingRead.NotYet;
            }

            if (first < _written - Capacity)
            {
                return RingRead.Overwritten;
            }

            for (long i = first; i < first + frames; i++)
            {
                _values.AsSpan((int)(i % Capacity) * Channels, Channels).CopyTo(destination[(int)((i - first) * Channels)..]);
            }

            lastTimestamp = _times[(first + frames - 1) % Capacity];
            return RingRead.Copied;
        }
    }

    /// <summary>
    /// Completes once a frame taken at or after <paramref name="timestamp"/> is in the ring (a trigger's window end
    /// has been sensed), or after <paramref name="timeout"/>; returns whether it got there.
    /// </summary>
    public async Task<bool> WaitForAsync(long timestamp, TimeSpan timeout, CancellationToken cancellationToken)
    {
        long started = _time.GetTimestamp();
        while (true)
        {
            Task next;
            lock (_gate)
            {
                if (_written > 0 && _times[(_written - 1) % Capacity] >= timestamp)
                {
                    return true;
                }

                next = (_newer ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }

            var left = timeout - _time.GetElapsedTime(started);
            if (left <= TimeSpan.Zero)
            {
                return false;
            }

            try
            {
                await next.WaitAsync(left, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                return false;
            }
        }
    }

    /// <summary>
    /// The newest frame alone (one sample's channels: a camera's picture) and the time it was taken; empty, with
    /// long.MinValue, when the ring is empty. Taken under the lock, so the frame and its time always belong together.
    /// </summary>
    public float[] CopyNewest(out long timestamp)
    {
        lock (_gate)
        {
            if (_written == 0)
            {
                timestamp = long.MinValue;
                return [];
            }

            int slot = (int)((_written - 1) % Capacity);
            timestamp = _times[slot];
            return _values.AsSpan(slot * Channels, Channels).ToArray();
        }
    }

    /// <summary>
    /// The frames taken in (from, to] (timestamp ticks), oldest first, interleaved by channel. Open at the start, so a
    /// window of d ms at r Hz holds d·r/1000 frames however the trigger falls between samples (a closed span held one
    /// more whenever both ends met a sample's time, and a model fed a fixed-size window saw its input change shape);
    /// closed at the end, so a window ending at a firing holds the sample that fired it.
    /// </summary>
    public float[] Copy(long from, long to) => Copy(from, to, out _);

    /// <summary>As <see cref="Copy(long, long)"/>, also giving the time of the first frame returned (a window reaching back before the stream began starts later).</summary>
    public float[] Copy(long from, long to, out long firstTimestamp)
    {
        firstTimestamp = from;
        lock (_gate)
        {
            long oldest = Math.Max(0, _written - Capacity);
            long first = _written;
            long last = -1;
            for (long i = oldest; i < _written; i++)
            {
                long t = _times[i % Capacity];
                if (t > from && first == _written)
                {
                    first = i;
                }

                if (t <= to)
                {
                    last = i;
                }
            }

            if (first == _written || last < first) // nothing in the span: all older, all newer, or none at all
            {
                return [];
            }

            firstTimestamp = _times[first % Capacity];
            var result = new float[(last - first + 1) * Channels];
            for (long i = first; i <= last; i++)
            {
                _values.AsSpan((int)(i % Capacity) * Channels, Channels).CopyTo(result.AsSpan((int)(i - first) * Channels));
            }

            return result;
        }
    }
}

/// <summary>What <see cref="SampleRing.TryCopy"/> found.</summary>
public enum RingRead
{
    Copied,

    /// <summary>Some of the frames have not been taken yet.</summary>
    NotYet,

    /// <summary>Some of the frames were overwritten: the reader fell behind by more than the ring holds.</summary>
    Overwritten,
}
