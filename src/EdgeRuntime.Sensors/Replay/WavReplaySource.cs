using EdgeRuntime.Formats;

namespace EdgeRuntime.Sensors.Replay;

/// <summary>
/// A recorded WAV file played back as if a microphone were capturing it: mono float samples in chunks, resampled to
/// the configured sampleRate (16 kHz by default, what speech models take), as an ALSA capture at that rate would
/// deliver them. The file is read again at every pass, so one that disappears fails the sensor (and one that comes
/// back recovers it) as an unplugged microphone would.
/// </summary>
public sealed class WavReplaySource(SensorConfig config, string path) : ISensorSource
{
    private readonly int _chunk = config.ChunkSamples > 0 ? config.ChunkSamples : throw new ArgumentException($"Sensor '{config.Name}': chunkSamples must be above 0.");

    public string Name { get; } = config.Name;

    public string Type => "wav";

    /// <summary>The clock that paces it and stamps its frames; <see cref="SensorFactory"/> sets the host's.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    public IReadOnlyList<string> Channels { get; } = ["audio"];

    public double SampleRate { get; } = config.SampleRate > 0 ? config.SampleRate : throw new ArgumentException($"Sensor '{config.Name}': sampleRate must be above 0.");

    public async Task RunAsync(ISensorObserver observer, CancellationToken cancellationToken)
    {
        do
        {
            var audio = WavAudio.Read(path);
            if (audio.SampleRate != (int)SampleRate)
            {
                audio = audio.Resample((int)SampleRate);
            }

            observer.OnOpened(this);
            var pacer = new ReplayPacer(audio.SampleRate, config.Realtime, TimeProvider);
            for (int at = 0; at < audio.Samples.Length; at += _chunk)
            {
                int n = Math.Min(_chunk, audio.Samples.Length - at);
                long taken = await pacer.WaitAsync(n, cancellationToken).ConfigureAwait(false);
                observer.OnFrame(this, new SensorFrame(taken, audio.Samples.AsMemory(at, n), 1));
            }
        }
        while (config.Loop);
    }
}
