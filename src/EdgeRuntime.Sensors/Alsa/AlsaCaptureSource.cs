namespace EdgeRuntime.Sensors.Alsa;

/// <summary>
/// A microphone through ALSA: mono signed 16-bit capture at SampleRate, delivered as float chunks of ChunkSamples.
/// Reads block on a thread of their own (one period at most), so cancellation is seen within a chunk. An overrun (the
/// daemon fell behind) is recovered in place; a device that goes away fails the run and the host retries.
/// </summary>
public sealed class AlsaCaptureSource(SensorConfig config) : ISensorSource
{
    private readonly string _device = config.Device ?? "default";
    private readonly int _chunk = config.ChunkSamples > 0 ? config.ChunkSamples : throw new ArgumentException($"Sensor '{config.Name}': chunkSamples must be above 0.");

    public string Name { get; } = config.Name;

    public string Type => "alsa";

    /// <summary>The clock that stamps its chunks; <see cref="SensorFactory"/> sets the host's.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    public IReadOnlyList<string> Channels { get; } = ["audio"];

    public double SampleRate { get; } = config.SampleRate > 0 ? config.SampleRate : throw new ArgumentException($"Sensor '{config.Name}': sampleRate must be above 0.");

    public Task RunAsync(ISensorObserver observer, CancellationToken cancellationToken) =>
        Task.Factory.StartNew(() => Capture(observer, cancellationToken), cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private unsafe void Capture(ISensorObserver observer, CancellationToken cancellationToken)
    {
        nint pcm;
        int rc;
        try
        {
            rc = AlsaNative.PcmOpen(out pcm, _device, AlsaNative.StreamCapture, 0);
        }
        catch (DllNotFoundException e)
        {
            throw new IOException("libasound.so.2 is not installed; install it with: apt-get install libasound2", e);
        }

        if (rc < 0)
        {
            throw new IOException($"Cannot open ALSA capture device '{_device}': {AlsaNative.Describe(rc)}. List devices with 'arecord -L'; the service user needs group audio.");
        }

        try
        {
            // Soft resampling on, 100 ms of device buffering: enough to ride out a scheduling hiccup on a busy Pi.
            rc = AlsaNative.PcmSetParams(pcm, AlsaNative.FormatS16Le, AlsaNative.AccessRwInterleaved, 1, (uint)SampleRate, 1, 100_000);
            if (rc < 0)
            {
                throw new IOException($"ALSA device '{_device}' refused mono S16_LE at {SampleRate} Hz: {AlsaNative.Describe(rc)}.");
            }

            observer.OnOpened(this);
            short[] raw = new short[_chunk];
            float[] samples = new float[_chunk];
            while (!cancellationToken.IsCancellationRequested)
            {
                nint got;
                fixed (short* p = raw)
                {
                    got = AlsaNative.PcmReadInterleaved(pcm, p, (nuint)_chunk);
                }

                if (got < 0)
                {
                    int recovered = AlsaNative.PcmRecover(pcm, (int)got, 1);
                    if (recovered < 0)
                    {
                        throw new IOException($"ALSA capture on '{_device}' failed: {AlsaNative.Describe((int)got)}.");
                    }

                    continue;
                }

                long now = TimeProvider.GetTimestamp();
                int n = (int)got;
                for (int i = 0; i < n; i++)
                {
                    samples[i] = raw[i] / 32768f;
                }

                // The chunk's last sample was taken before now by what is still waiting in the device buffer: stamp it
                // then, so windows line up with GPIO edges even when reads fall behind.
                long waiting = AlsaNative.PcmDelay(pcm, out nint delay) == 0 && delay > 0 ? delay : 0;
                long taken = now - (long)(waiting * TimeProvider.TimestampFrequency / SampleRate);
                observer.OnFrame(this, new SensorFrame(taken, samples.AsMemory(0, n), 1));
            }

            cancellationToken.ThrowIfCancellationRequested();
        }
        finally
        {
            _ = AlsaNative.PcmClose(pcm);
        }
    }
}
