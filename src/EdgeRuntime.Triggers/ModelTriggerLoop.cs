using System.Globalization;
using System.Threading.Channels;
using EdgeRuntime.Sensors;

namespace EdgeRuntime.Triggers;

/// <summary>
/// A model watching a stream: the sensor's samples are cut into frames of run.frameSamples and the model runs on each
/// in order, with its recurrent state carried from frame to frame (Silero VAD's LSTM must see the audio in sequence).
/// When the output reaches the threshold the trigger fires, stamped with the time of that frame's newest sample.
/// Frames wait in a bounded queue; when the model cannot keep up the oldest are dropped (and logged), and the state is
/// reset, because a gap in the audio would make the carried state wrong anyway.
/// </summary>
internal sealed class ModelTriggerLoop
{
    private readonly TriggerRule _rule;
    private readonly WindowModelRunner _runner;
    private readonly TriggerEngine _engine;
    private readonly Action<string> _log;
    private readonly ModelWhen _when;
    private readonly TimeProvider _time;
    private readonly Channel<(float[] Samples, int Channels, long Timestamp)> _frames;
    private float[] _pending = [];
    private int _filled;
    private long _dropped; // since the loop last looked: a gap in the stream

    /// <param name="time">The sensors' clock: frames are stamped in its ticks, and a failing model is retried by it.</param>
    public ModelTriggerLoop(TriggerRule rule, WindowModelRunner runner, TriggerEngine engine, Action<string> log, TimeProvider time)
    {
        _time = time;
        _rule = rule;
        _runner = runner;
        _engine = engine;
        _log = log;
        _when = rule.Config.On.Model!;
        _frames = Channel.CreateBounded<(float[], int, long)>(
            new BoundedChannelOptions(64) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true },
            _ => Interlocked.Increment(ref _dropped));
    }

    public string Sensor => _when.Sensor;

    /// <summary>Called on the sensor's thread: only copies samples and queues whole frames.</summary>
    public void Accept(in SensorFrame frame, double sampleRate)
    {
        double ticksPerSample = sampleRate > 0 ? _time.TimestampFrequency / sampleRate : 0;
        int frameValues = _when.Run.FrameSamples!.Value * frame.Channels;
        if (_pending.Length != frameValues)
        {
            _pending = new float[frameValues];
            _filled = 0;
        }

        var span = frame.Samples.Span;
        while (!span.IsEmpty)
        {
            int n = Math.Min(span.Length, frameValues - _filled);
            span[..n].CopyTo(_pending.AsSpan(_filled));
            _filled += n;
            span = span[n..];
            if (_filled == frameValues)
            {
                // Stamped with the time of this frame's own newest sample: the block's stamp minus what follows it.
                long taken = frame.Timestamp - (long)(span.Length / frame.Channels * ticksPerSample);
                _frames.Writer.TryWrite(((float[])_pending.Clone(), frame.Channels, taken));

                _filled = 0;
            }
        }
    }

    public async Task RunAsync(CancellationToken stop)
    {
        var state = new WindowModelRunner.StreamState();
        try
        {
            await foreach (var (samples, channels, timestamp) in _frames.Reader.ReadAllAsync(stop).ConfigureAwait(false))
            {
                long dropped = Interlocked.Exchange(ref _dropped, 0);
                if (dropped > 0)
                {
                    _log($"trigger {_rule.Name}: the model fell behind its stream; {dropped} frames dropped and its state reset");
                    state = new WindowModelRunner.StreamState();
                }

                double score;
                try
                {
                    var output = await _runner.RunAsync(_when.Run, samples, channels, state, stop).ConfigureAwait(false);
                    var value = output.Summary.FirstOrDefault(s => s.Channel == _when.Output)
                        ?? throw new InvalidOperationException($"model '{_when.Run.Model}' has no float output '{_when.Output}'");
                    score = value.Value;
                }
                catch (Exception e) when (e is not OperationCanceledException and not OutOfMemoryException)
                {
                    _log($"trigger {_rule.Name}: watching model failed: {e.Message}");
                    state = new WindowModelRunner.StreamState();
                    await Task.Delay(TimeSpan.FromSeconds(1), _time, stop).ConfigureAwait(false);
                    continue;
                }

                if (_rule.Armed && score >= _when.Above)
                {
                    _rule.Armed = false;
                    _engine.Fire(_rule, string.Create(CultureInfo.InvariantCulture, $"model {_when.Run.Model} {_when.Output} = {score:0.###}"), timestamp);
                }
                else if (!_rule.Armed && score < _when.Above - _when.Hysteresis)
                {
                    _rule.Armed = true;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
