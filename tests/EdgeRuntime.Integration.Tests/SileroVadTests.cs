using EdgeRuntime.Client;
using EdgeRuntime.Formats;

namespace EdgeRuntime.Integration.Tests;

/// <summary>A real model on real input: Silero VAD over espeak-ng speech and over a quiet room, through edged.</summary>
public sealed class SileroVadTests
{
    [Fact]
    public async Task Speech_frames_score_high_and_silence_scores_low_through_edgectl()
    {
        await using var edged = await EdgedProcess.StartAsync(preload: """{ "name": "vad", "path": "silero_vad_v5.onnx" }""");
        string work = Path.Combine(edged.Directory, "vad");
        Directory.CreateDirectory(work);
        Assert.Equal(0, (await ProcessRunner.RunAsync(Paths.Edgectl, "tensor", Path.Combine(work, "state.npy"), "--dtype", "float32", "--shape", "2,1,128")).ExitCode);
        Assert.Equal(0, (await ProcessRunner.RunAsync(Paths.Edgectl, "tensor", Path.Combine(work, "sr.npy"), "--dtype", "int64", "--shape", "", "--value", "16000")).ExitCode);

        async Task<float[]> ProbabilitiesAsync(string wav, string name)
        {
            string frames = Path.Combine(work, name + ".npy");
            var convert = await ProcessRunner.RunAsync(Paths.Edgectl, "wav2npy", wav, frames, "--rate", "16000", "--frame", "512");
            Assert.Equal(0, convert.ExitCode);
            var run = await edged.EdgectlAsync("infer", "vad", "--input", $"input={frames}", "--input", $"state={Path.Combine(work, "state.npy")}",
                "--input", $"sr={Path.Combine(work, "sr.npy")}", "--split", "input", "--carry", "stateN=state", "--output-dir", Path.Combine(work, name), "--quiet");
            Assert.True(run.ExitCode == 0, run.All);
            var output = NpyFile.Read(Path.Combine(work, name, "output.npy"));
            Assert.Equal(NpyFile.Read(frames).Shape[0], output.Shape[0]);
            return output.ToArray<float>();
        }

        float[] speech = await ProbabilitiesAsync(Paths.SpeechWav, "speech");
        float[] silence = await ProbabilitiesAsync(Paths.SilenceWav, "silence");

        // espeak-ng leaves pauses between words, so not every frame is speech; most are.
        double speechShare = speech.Count(p => p >= 0.5) / (double)speech.Length;
        Assert.True(speechShare >= 0.6, $"only {speechShare:P0} of speech frames scored >= 0.5");
        Assert.True(speech.Max() > 0.95f, $"max speech probability {speech.Max()}");
        Assert.True(silence.Max() < 0.3f, $"silence scored up to {silence.Max()}");
        Assert.True(silence.Average() < 0.05f, $"silence averaged {silence.Average()}");
    }

    [Fact]
    public async Task The_client_library_gets_the_same_probabilities_as_edgectl_frame_by_frame()
    {
        await using var edged = await EdgedProcess.StartAsync(preload: """{ "name": "vad", "path": "silero_vad_v5.onnx" }""");
        var audio = WavAudio.Read(Paths.SpeechWav).Resample(16000);
        var frames = audio.ToFrames("input", 512);
        await using var client = await EdgeClient.ConnectAsync(edged.SocketPath);

        var state = Tensor.Float32("state", [2, 1, 128], new float[256]);
        var sr = Tensor.Int64("sr", [], [16000]);
        var probabilities = new List<float>();
        for (int i = 0; i < 40; i++)
        {
            var frame = frames with { Shape = [1, 512], Data = frames.Data.Slice(i * 2048, 2048) };
            var result = await client.InferAsync("vad", [frame, state, sr]);
            probabilities.Add(result["output"].ToArray<float>()[0]);
            state = result["stateN"] with { Name = "state" };
        }

        string npy = Path.Combine(edged.Directory, "speech.npy");
        NpyFile.Write(npy, frames with { Shape = [40, 512], Data = frames.Data[..(40 * 2048)] });
        NpyFile.Write(Path.Combine(edged.Directory, "state.npy"), Tensor.Float32("state", [2, 1, 128], new float[256]));
        NpyFile.Write(Path.Combine(edged.Directory, "sr.npy"), sr);
        var run = await edged.EdgectlAsync("infer", "vad", "--input", $"input={npy}", "--input", $"state={Path.Combine(edged.Directory, "state.npy")}",
            "--input", $"sr={Path.Combine(edged.Directory, "sr.npy")}", "--split", "input", "--carry", "stateN=state", "--output-dir", Path.Combine(edged.Directory, "out"), "--quiet");
        Assert.True(run.ExitCode == 0, run.All);

        // Same model, same inputs, same session: bit-identical outputs.
        Assert.Equal(probabilities.ToArray(), NpyFile.Read(Path.Combine(edged.Directory, "out", "output.npy")).ToArray<float>());
    }
}
