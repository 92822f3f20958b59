namespace EdgeRuntime.Pipelines.Live;

/// <summary>
/// A microphone (or a replayed one) as an audio modality: blocks of the encoder's rate cut from the sensor's ring,
/// starting at the run's first sample. A faster sensor is resampled on the fly with the linear interpolation
/// <see cref="EdgeRuntime.Formats.WavAudio.Resample"/> uses, sample for sample, so a recording read live gives the values
/// the same recording gives as a file.
/// </summary>
internal sealed class LiveAudioSource : IModalitySource
{
    private readonly LiveStream _stream;
    private readonly long _first;
    private readonly double _step;
    private float[] _input = [];

    public LiveAudioSource(LiveStream stream, long first, double sensorRate, int rate, int samples, double blockMs)
    {
        _stream = stream;
        _first = first;
        _step = sensorRate / rate;
        BlockValues = (int)Math.Round(rate * blockMs / 1000);
        BlockMs = blockMs;
        Blocks = samples / BlockValues;
    }

    public string Modality => "audio";

    public int Blocks { get; }

    public int BlockValues { get; }

    public double BlockMs { get; }

    public async ValueTask<SensedBlock> ReadAsync(int index, CancellationToken cancellationToken)
    {
        int firstOut = index * BlockValues;
        int lastOut = firstOut + BlockValues - 1;
        long from = (long)(firstOut * _step);
        long to = LastNeeded(lastOut);
        int count = (int)(to - from + 1);
        if (_input.Length < count)
        {
            _input = new float[count];
        }

        long taken = await _stream.ReadAsync(_first + from, count, _input, index, cancellationToken).ConfigureAwait(false);
        var block = new float[BlockValues];
        for (int i = 0; i < block.Length; i++)
        {
            double source = (firstOut + i) * _step;
            long left = (long)source;
            double fraction = source - left;
            float l = _input[left - from];
            float r = fraction > 0 ? _input[left + 1 - from] : l;
            block[i] = (float)((l * (1 - fraction)) + (r * fraction));
        }

        return new SensedBlock(block, _stream.ToRunMs(taken));
    }

    /// <summary>The last input sample output <paramref name="output"/> needs: its left neighbour, and the right one when it weighs.</summary>
    private long LastNeeded(int output)
    {
        double source = output * _step;
        long left = (long)source;
        return source > left ? left + 1 : left;
    }

    public void Dispose() => _stream.Dispose();
}
