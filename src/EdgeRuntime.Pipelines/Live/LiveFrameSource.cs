using EdgeRuntime.Sensors;

namespace EdgeRuntime.Pipelines.Live;

/// <summary>
/// A camera as a vision modality: one frame per interval of the encoder's frame rate, made grey and shrunk to the
/// encoder's size. Frames are taken by index from the run's first frame (a 16 Hz camera gives frame k to unit k; a
/// 30 Hz one every 1.875th, rounded down), so jitter in the timestamps cannot make two runs of one recording differ.
/// </summary>
internal sealed class LiveFrameSource : IModalitySource
{
    private readonly LiveStream _stream;
    private readonly ICameraSource _camera;
    private readonly long _first;
    private readonly double _framesPerUnit;
    private readonly int _cols, _rows;
    private readonly float[] _frame;

    public LiveFrameSource(LiveStream stream, ICameraSource camera, long first, int frames, double intervalMs, int cols, int rows)
    {
        _stream = stream;
        _camera = camera;
        _first = first;
        _framesPerUnit = camera.SampleRate * intervalMs / 1000;
        (_cols, _rows) = (cols, rows);
        _frame = new float[camera.Width * camera.Height * camera.Colours];
        Blocks = frames;
        BlockMs = intervalMs;
    }

    public string Modality => "vision";

    public int Blocks { get; }

    public int BlockValues => _cols * _rows;

    public double BlockMs { get; }

    public async ValueTask<SensedBlock> ReadAsync(int index, CancellationToken cancellationToken)
    {
        long frame = _first + (long)Math.Floor((index * _framesPerUnit) + 1e-9);
        long taken = await _stream.ReadAsync(frame, 1, _frame, index, cancellationToken).ConfigureAwait(false);
        float[] grey = FrameConversion.Grey(_frame, _camera.Colours);
        return new SensedBlock(FrameConversion.Shrink(grey, _camera.Width, _camera.Height, _cols, _rows), _stream.ToRunMs(taken));
    }

    public void Dispose() => _stream.Dispose();
}
