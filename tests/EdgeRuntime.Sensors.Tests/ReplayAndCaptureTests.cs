using System.Diagnostics;
using System.Text;
using EdgeRuntime.Formats;
using EdgeRuntime.Protocol;
using EdgeRuntime.Sensors.Alsa;
using EdgeRuntime.Sensors.Replay;
using EdgeRuntime.Sensors.V4l2;

namespace EdgeRuntime.Sensors.Tests;

public sealed class ReplayAndCaptureTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("replay-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static async Task<(float[] Samples, int Frames, int Channels)> CollectAsync(ISensorSource source, int wantValues)
    {
        var observer = new Collector();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        var run = Task.Run(() => source.RunAsync(observer, stop.Token));
        await Eventually.TrueAsync(() => observer.Count >= wantValues || run.IsCompleted, $"{wantValues} values");
        await stop.CancelAsync();
        try
        {
            await run;
        }
        catch (OperationCanceledException)
        {
        }

        return observer.Snapshot();
    }

    private sealed class Collector : ISensorObserver
    {
        private readonly List<float> _values = [];
        private int _frames;
        private int _channels;

        public int Count
        {
            get
            {
                lock (_values)
                {
                    return _values.Count;
                }
            }
        }

        public void OnEdge(ISensorSource source, GpioEdge edge)
        {
        }

        public void OnFrame(ISensorSource source, in SensorFrame frame)
        {
            lock (_values)
            {
                _values.AddRange(frame.Samples.Span);
                _frames++;
                _channels = frame.Channels;
            }
        }

        public (float[], int, int) Snapshot()
        {
            lock (_values)
            {
                return ([.. _values], _frames, _channels);
            }
        }
    }

    [Fact]
    public async Task A_wav_replays_its_samples_in_chunks_at_the_recording_pace()
    {
        string wav = Path.Combine(_dir, "tone.wav");
        WriteWav(wav, 8000, [.. Enumerable.Range(0, 1600).Select(i => (short)(i * 10))]);
        var source = new WavReplaySource(new SensorConfig { Name = "mic", Type = "wav", ChunkSamples = 400, SampleRate = 8000 }, wav);
        Assert.Equal(8000, source.SampleRate);
        var clock = Stopwatch.StartNew();
        var (samples, frames, channels) = await CollectAsync(source, 1600);
        Assert.Equal(4, frames);
        Assert.Equal(1, channels);
        Assert.Equal(1600, samples.Length);
        Assert.Equal(10 / 32768f, samples[1], 6);
        Assert.True(clock.ElapsedMilliseconds >= 140, $"1600 samples at 8 kHz took {clock.ElapsedMilliseconds} ms; real-time pacing needs at least ~150 ms");
    }

    [Fact]
    public async Task A_wav_at_another_rate_is_resampled_to_the_configured_one()
    {
        string wav = Path.Combine(_dir, "22k.wav");
        WriteWav(wav, 22050, new short[22050]);
        var source = new WavReplaySource(new SensorConfig { Name = "mic", Type = "wav", ChunkSamples = 512, Realtime = false }, wav);
        Assert.Equal(16000, source.SampleRate);
        var (samples, _, _) = await CollectAsync(source, 16000);
        Assert.InRange(samples.Length, 15990, 16010);
    }

    [Fact]
    public async Task A_npy_series_replays_row_by_row_with_one_channel_per_column()
    {
        string npy = Path.Combine(_dir, "imu.npy");
        NpyFile.Write(npy, Tensor.Float32("imu", [3, 2], [1f, 2f, 3f, 4f, 5f, 6f]));
        var source = new SeriesReplaySource(new SensorConfig { Name = "imu", Type = "series", SampleHz = 1000, Realtime = false }, npy);
        Assert.Equal(["c0", "c1"], source.Channels);
        var (samples, frames, channels) = await CollectAsync(source, 6);
        Assert.Equal([1f, 2f, 3f, 4f, 5f, 6f], samples);
        Assert.Equal(3, frames);
        Assert.Equal(2, channels);
    }

    [Fact]
    public void A_malformed_csv_names_the_line()
    {
        string csv = Path.Combine(_dir, "bad.csv");
        File.WriteAllText(csv, "a,b\n1,2\n3,x\n");
        var error = Assert.Throws<InvalidDataException>(() => SeriesReplaySource.Load(csv));
        Assert.Contains("bad.csv:3", error.Message, StringComparison.Ordinal);
        Assert.Contains("'x'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_image_sequence_replays_frames_in_name_order_as_pixels()
    {
        string frames = Directory.CreateDirectory(Path.Combine(_dir, "frames")).FullName;
        WritePgm(Path.Combine(frames, "002.pgm"), 2, 2, [0, 255, 255, 0]);
        WritePgm(Path.Combine(frames, "001.pgm"), 2, 2, [255, 0, 0, 51]);
        var source = new ImageSequenceSource(new SensorConfig { Name = "cam", Type = "images", SampleHz = 1000, Realtime = false }, frames);
        Assert.Equal(4, source.Channels.Count);
        Assert.Equal((2, 2, 1), (source.Width, source.Height, source.Colours));
        var (samples, count, channels) = await CollectAsync(source, 8);
        Assert.Equal(2, count);
        Assert.Equal(4, channels);
        Assert.Equal([1f, 0f, 0f, 0.2f, 0f, 1f, 1f, 0f], samples);
    }

    [Fact]
    public async Task An_image_sequence_refuses_a_frame_of_another_shape_even_with_as_many_pixels()
    {
        string frames = Directory.CreateDirectory(Path.Combine(_dir, "shapes")).FullName;
        WritePgm(Path.Combine(frames, "001.pgm"), 4, 2, new byte[8]);
        WritePgm(Path.Combine(frames, "002.pgm"), 2, 4, new byte[8]);
        var source = new ImageSequenceSource(new SensorConfig { Name = "cam", Type = "images", SampleHz = 1000, Realtime = false }, frames);
        Assert.Equal((4, 2), (source.Width, source.Height));
        var error = await Assert.ThrowsAsync<InvalidDataException>(() => source.RunAsync(new Recorder(), CancellationToken.None));
        Assert.Contains("002.pgm is 2x4 grey; the sequence started with 4x2 grey", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_alsa_device_that_does_not_exist_fails_with_what_to_check()
    {
        var mic = new AlsaCaptureSource(new SensorConfig { Name = "mic", Type = "alsa", Device = "hw:97,0" });
        var error = await Assert.ThrowsAsync<IOException>(() => mic.RunAsync(new Recorder(), CancellationToken.None));
        Assert.Contains("hw:97,0", error.Message, StringComparison.Ordinal);
        Assert.Contains("arecord -L", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Alsa_capture_streams_chunks_from_the_null_device()
    {
        // ALSA's "null" plugin captures silence without hardware: it exercises open, set_params and readi for real.
        var mic = new AlsaCaptureSource(new SensorConfig { Name = "mic", Type = "alsa", Device = "null", SampleRate = 16000, ChunkSamples = 256 });
        var (samples, frames, channels) = await CollectAsync(mic, 1024);
        Assert.True(frames >= 4, $"{frames} chunks");
        Assert.Equal(1, channels);
        Assert.All(samples, s => Assert.Equal(0f, s));
    }

    [Fact]
    public async Task A_camera_that_is_not_attached_fails_with_what_to_check()
    {
        var camera = new V4l2CameraSource(new SensorConfig { Name = "cam", Type = "v4l2", Device = "/dev/video97", SampleHz = 5, Width = 28, Height = 14 });
        Assert.Equal((28, 14, 1, 28 * 14), (camera.Width, camera.Height, camera.Colours, camera.Channels.Count));
        var error = await Assert.ThrowsAsync<IOException>(() => camera.RunAsync(new Recorder(), CancellationToken.None));
        Assert.Contains("/dev/video97", error.Message, StringComparison.Ordinal);
    }

    private static void WriteWav(string path, int rate, short[] samples)
    {
        using var file = new BinaryWriter(File.Create(path));
        file.Write("RIFF"u8);
        file.Write(36 + (samples.Length * 2));
        file.Write("WAVEfmt "u8);
        file.Write(16);
        file.Write((short)1);
        file.Write((short)1);
        file.Write(rate);
        file.Write(rate * 2);
        file.Write((short)2);
        file.Write((short)16);
        file.Write("data"u8);
        file.Write(samples.Length * 2);
        foreach (short s in samples)
        {
            file.Write(s);
        }
    }

    private static void WritePgm(string path, int width, int height, byte[] pixels)
    {
        using var file = File.Create(path);
        file.Write(Encoding.ASCII.GetBytes($"P5\n# a comment\n{width} {height}\n255\n"));
        file.Write(pixels);
    }
}
