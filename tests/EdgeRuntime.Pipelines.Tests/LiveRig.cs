using EdgeRuntime.Formats;
using EdgeRuntime.Pipelines.Live;
using EdgeRuntime.Sensors;
using EdgeRuntime.Sensors.Gpio;

namespace EdgeRuntime.Pipelines.Tests;

/// <summary>
/// Sensors for live runs in one test: replayed microphones and cameras (the daemon's wav and images sensors) on a
/// sensor host that is started by the test, so a run asked for before <see cref="Start"/> begins at each recording's
/// first sample. Files go to a temporary folder removed at the end.
/// </summary>
internal sealed class LiveRig : IAsyncDisposable
{
    private readonly GpioChips _chips = new(null, "logical", TimeProvider.System);

    public LiveRig()
    {
        Folder = Directory.CreateTempSubdirectory("edgeruntime-live-").FullName;
        Host = new SensorHost(_ => { }) { InitialBackoff = TimeSpan.FromSeconds(30) };
        Sensors = new LiveSensors(Host);
    }

    public string Folder { get; }

    public SensorHost Host { get; }

    public LiveSensors Sensors { get; }

    /// <summary>A microphone replaying <paramref name="wav"/> at <paramref name="rate"/> Hz in 20 ms chunks, as an ALSA period would deliver it.</summary>
    public void AddMicrophone(string name, string wav, int rate = 8000, bool loop = false, double bufferMs = 3000) =>
        Add(new SensorConfig { Name = name, Type = "wav", Path = wav, SampleRate = rate, ChunkSamples = rate / 50, Loop = loop, BufferMs = bufferMs });

    /// <summary>A camera replaying a folder of frames at <paramref name="hz"/> frames a second.</summary>
    public void AddCamera(string name, string folder, double hz = 16, bool loop = false, bool onDemand = false, double bufferMs = 3000) =>
        Add(new SensorConfig { Name = name, Type = "images", Path = folder, SampleHz = hz, Loop = loop, OnDemand = onDemand, BufferMs = bufferMs });

    public void Add(SensorConfig config) => Add(SensorFactory.Create(config, _chips, Folder), config.BufferMs, config.OnDemand);

    public void Add(ISensorSource source, double bufferMs, bool onDemand = false) => Host.Add(source, bufferMs, onDemand);

    public void Start() => Host.Start();

    /// <summary>An episode's eight 8×8 frames as a folder of PGM pictures (the 8-bit pixels the .npy holds, rounded).</summary>
    public string FramesOf(int episode, int scale = 1)
    {
        var frames = NpyFile.Read(Path.Combine(MmedgeFixture.Episodes, $"{episode:0000}.npy")).ToArray<float>();
        string folder = Directory.CreateDirectory(Path.Combine(Folder, $"frames-{episode}-{scale}")).FullName;
        for (int f = 0; f < 8; f++)
        {
            byte[] pixels = PgmFiles.Quantize(frames.AsSpan(f * 64, 64));
            PgmFiles.Write(Path.Combine(folder, $"{f:000}.pgm"), 8 * scale, 8 * scale, Enlarge(pixels, 8, scale));
        }

        return folder;
    }

    /// <summary>Each pixel repeated scale×scale times: a bigger picture whose box averages are the original exactly.</summary>
    public static byte[] Enlarge(byte[] pixels, int side, int scale)
    {
        int big = side * scale;
        var result = new byte[big * big];
        for (int y = 0; y < big; y++)
        {
            for (int x = 0; x < big; x++)
            {
                result[(y * big) + x] = pixels[((y / scale) * side) + (x / scale)];
            }
        }

        return result;
    }

    public async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync();
        _chips.Dispose();
        Directory.Delete(Folder, recursive: true);
    }
}
