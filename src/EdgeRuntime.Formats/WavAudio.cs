using System.Buffers.Binary;
using System.Text;

namespace EdgeRuntime.Formats;

/// <summary>Mono float samples in [-1, 1] at a sample rate; read from WAV files for audio models.</summary>
public sealed record WavAudio(float[] Samples, int SampleRate)
{
    public double Seconds => (double)Samples.Length / SampleRate;

    /// <summary>Reads PCM 8/16/24/32-bit or IEEE float 32-bit WAV; channels are averaged to mono.</summary>
    public static WavAudio Read(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        ReadOnlySpan<byte> span = bytes;
        if (span.Length < 12 || Encoding.ASCII.GetString(span[..4]) != "RIFF" || Encoding.ASCII.GetString(span.Slice(8, 4)) != "WAVE")
        {
            throw new InvalidDataException($"{path} is not a RIFF/WAVE file.");
        }

        int format = 0, channels = 0, rate = 0, bits = 0;
        int position = 12;
        while (position + 8 <= span.Length)
        {
            string id = Encoding.ASCII.GetString(span.Slice(position, 4));
            int size = BinaryPrimitives.ReadInt32LittleEndian(span[(position + 4)..]);
            var body = span.Slice(position + 8, Math.Min(size < 0 ? int.MaxValue : size, span.Length - position - 8));
            if (id == "fmt ")
            {
                format = BinaryPrimitives.ReadUInt16LittleEndian(body);
                channels = BinaryPrimitives.ReadUInt16LittleEndian(body[2..]);
                rate = BinaryPrimitives.ReadInt32LittleEndian(body[4..]);
                bits = BinaryPrimitives.ReadUInt16LittleEndian(body[14..]);
                if (format == 0xFFFE && body.Length >= 26)
                {
                    format = BinaryPrimitives.ReadUInt16LittleEndian(body[24..]); // WAVE_FORMAT_EXTENSIBLE: the sub-format's tag
                }
            }
            else if (id == "data")
            {
                if (channels == 0)
                {
                    throw new InvalidDataException($"{path}: the data chunk comes before the fmt chunk.");
                }

                return new WavAudio(Decode(body, format, channels, bits, path), rate);
            }

            position += 8 + size + (size & 1);
        }

        throw new InvalidDataException($"{path} has no data chunk.");
    }

    /// <summary>Linear-interpolation resampling; adequate for speech models at 8-48 kHz.</summary>
    public WavAudio Resample(int targetRate)
    {
        if (targetRate == SampleRate)
        {
            return this;
        }

        int length = (int)((long)Samples.Length * targetRate / SampleRate);
        var output = new float[length];
        double step = (double)SampleRate / targetRate;
        for (int i = 0; i < length; i++)
        {
            double source = i * step;
            int left = (int)source;
            int right = Math.Min(left + 1, Samples.Length - 1);
            double fraction = source - left;
            output[i] = (float)((Samples[left] * (1 - fraction)) + (Samples[right] * fraction));
        }

        return new WavAudio(output, targetRate);
    }

    /// <summary>Cuts the samples into frames of <paramref name="frameLength"/>, zero-padding the last one: a [frames, frameLength] tensor.</summary>
    public Tensor ToFrames(string name, int frameLength)
    {
        int frames = (Samples.Length + frameLength - 1) / frameLength;
        var data = new float[frames * frameLength];
        Samples.CopyTo(data, 0);
        return Tensor.Float32(name, [frames, frameLength], data);
    }

    private static float[] Decode(ReadOnlySpan<byte> data, int format, int channels, int bits, string path)
    {
        int bytesPerSample = bits / 8;
        int frames = data.Length / (bytesPerSample * channels);
        var samples = new float[frames];
        for (int frame = 0; frame < frames; frame++)
        {
            float sum = 0;
            for (int channel = 0; channel < channels; channel++)
            {
                var s = data.Slice(((frame * channels) + channel) * bytesPerSample, bytesPerSample);
                sum += (format, bits) switch
                {
                    (1, 8) => (s[0] - 128) / 128f,
                    (1, 16) => BinaryPrimitives.ReadInt16LittleEndian(s) / 32768f,
                    (1, 24) => ((s[0] << 8) | (s[1] << 16) | (s[2] << 24)) / 2147483648f,
                    (1, 32) => BinaryPrimitives.ReadInt32LittleEndian(s) / 2147483648f,
                    (3, 32) => BinaryPrimitives.ReadSingleLittleEndian(s),
                    _ => throw new InvalidDataException($"{path}: WAV format {format} with {bits} bits per sample is not supported."),
                };
            }

            samples[frame] = sum / channels;
        }

        return samples;
    }
}
