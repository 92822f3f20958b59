using System.Text;

namespace EdgeRuntime.Formats.Tests;

public sealed class WavAudioTests
{
    private static string WriteWav(short[] samples, int rate, int channels)
    {
        string path = Path.Combine(Path.GetTempPath(), $"wav-{Guid.NewGuid():N}.wav");
        using var writer = new BinaryWriter(File.Create(path));
        writer.Write(Encoding.ASCII.GetBytes("RIFF"));
        writer.Write(36 + (samples.Length * 2));
        writer.Write(Encoding.ASCII.GetBytes("WAVEfmt "));
        writer.Write(16);
        writer.Write((short)1);
        writer.Write((short)channels);
        writer.Write(rate);
        writer.Write(rate * channels * 2);
        writer.Write((short)(channels * 2));
        writer.Write((short)16);
        writer.Write(Encoding.ASCII.GetBytes("LIST"));
        writer.Write(4);
        writer.Write(Encoding.ASCII.GetBytes("INFO"));
        writer.Write(Encoding.ASCII.GetBytes("data"));
        writer.Write(samples.Length * 2);
        foreach (short s in samples)
        {
            writer.Write(s);
        }

        return path;
    }

    [Fact]
    public void Reads_pcm16_skipping_unknown_chunks_and_mixing_stereo_to_mono()
    {
        string path = WriteWav([16384, 0, -16384, -16384, 32767, 32767], 22050, channels: 2);
        var audio = WavAudio.Read(path);
        Assert.Equal(22050, audio.SampleRate);
        Assert.Equal([0.25f, -0.5f, 32767 / 32768f], audio.Samples);
    }

    [Fact]
    public void Resampling_keeps_the_duration_and_interpolates()
    {
        var audio = new WavAudio([0f, 1f, 0f, -1f], 8000).Resample(16000);
        Assert.Equal(8, audio.Samples.Length);
        Assert.Equal(0.5f, audio.Samples[1], 5);
        Assert.Equal(4 / 8000.0, audio.Seconds, 9);
    }

    [Fact]
    public void Frames_are_zero_padded_to_whole_frames()
    {
        var frames = new WavAudio([.. Enumerable.Repeat(0.5f, 1000)], 16000).ToFrames("input", 512);
        Assert.Equal([2L, 512L], frames.Shape);
        float[] values = frames.ToArray<float>();
        Assert.Equal(0.5f, values[999]);
        Assert.Equal(0f, values[1000]);
    }

    [Fact]
    public void A_file_that_is_not_wav_is_refused()
    {
        string path = Path.GetTempFileName();
        File.WriteAllText(path, "not audio at all");
        Assert.Contains("not a RIFF/WAVE file", Assert.Throws<InvalidDataException>(() => WavAudio.Read(path)).Message, StringComparison.Ordinal);
    }
}
