using EdgeRuntime.Generation.Folder;
using EdgeRuntime.TestSupport;

namespace EdgeRuntime.Convert.Tests;

/// <summary>
/// models/bitnet-kjv and models/lfm2-kjv, which the default configuration serves, are exactly what the importer makes
/// of the trained checkpoints (tools/bitnet, tools/lfm2) with the options named here.
/// </summary>
public sealed class CommittedModelTests
{
    [Theory]
    [InlineData("bitnet-kjv", "bitnet")]
    [InlineData("lfm2-kjv", "lfm2", "--projections", "int4", "--block-size", "16")]
    public void The_committed_language_model_is_the_import_of_the_trained_checkpoint(string model, string tool, params string[] options)
    {
        string committed = Path.Combine(Repository.Root, "models", model);
        string checkpoint = Path.Combine(Repository.Root, "tools", tool, "checkpoint");
        string output = Directory.CreateTempSubdirectory("edgeruntime-kjv-").FullName;
        try
        {
            var stdout = new StringWriter();
            var stderr = new StringWriter();
            Assert.Equal(0, ImportCommand.Run([checkpoint, output, .. options], stdout, stderr));
            LanguageModelFolder.Open(committed);

            // Every field but the note on where it came from (the committed one names the command, not a temp path).
            static string[] Fields(string folder) => [.. File.ReadAllLines(Path.Combine(folder, LanguageModelFolder.ConfigFile)).Where(line => !line.Contains("\"source\"", StringComparison.Ordinal))];
            Assert.Equal(Fields(committed), Fields(output));
            Assert.Equal(File.ReadAllBytes(Path.Combine(committed, "weights.bin")), File.ReadAllBytes(Path.Combine(output, "weights.bin")));
            Assert.Equal(File.ReadAllBytes(Path.Combine(committed, "model.onnx")), File.ReadAllBytes(Path.Combine(output, "model.onnx")));
            Assert.Equal(File.ReadAllBytes(Path.Combine(checkpoint, "tokenizer.json")), File.ReadAllBytes(Path.Combine(committed, "tokenizer.json")));
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }

    /// <summary>
    /// models/vlm-fashion is the import of tools/vlm's checkpoint with int4 projections. Its decoder is compared byte for
    /// byte; its W8A16 encoder through its output, since the activation ranges come from running the float encoder and
    /// another CPU's kernels may round their last bits differently (a quantization step at most, far above 60 dB).
    /// </summary>
    [Fact]
    public void The_committed_vision_language_model_is_the_import_of_the_trained_checkpoint()
    {
        string committed = Path.Combine(Repository.Root, "models", "vlm-fashion");
        string checkpoint = Path.Combine(Repository.Root, "tools", "vlm", "checkpoint");
        string output = Directory.CreateTempSubdirectory("edgeruntime-vlm-").FullName;
        try
        {
            var stdout = new StringWriter();
            Assert.Equal(0, ImportCommand.Run([checkpoint, output, "--projections", "int4"], stdout, new StringWriter()));
            Assert.Contains("vision encoder: w8a16", stdout.ToString());
            Assert.Contains("QNN HTP fitness check: accepted", stdout.ToString());
            LanguageModelFolder.Open(committed);

            static string[] Fields(string folder) => [.. File.ReadAllLines(Path.Combine(folder, LanguageModelFolder.ConfigFile)).Where(line => !line.Contains("\"source\"", StringComparison.Ordinal))];
            Assert.Equal(Fields(committed), Fields(output));
            Assert.Equal(File.ReadAllBytes(Path.Combine(committed, "weights.bin")), File.ReadAllBytes(Path.Combine(output, "weights.bin")));
            Assert.Equal(File.ReadAllBytes(Path.Combine(committed, "model.onnx")), File.ReadAllBytes(Path.Combine(output, "model.onnx")));

            var image = new float[28 * 28];
            for (int i = 0; i < image.Length; i++)
            {
                image[i] = ((i * 37) % 251) / 255f;
            }

            float[] Encode(string folder)
            {
                using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(Path.Combine(folder, "vision.onnx"));
                using var input = Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(image, [1, 1, 28, 28]);
                using var results = session.Run(new Microsoft.ML.OnnxRuntime.RunOptions(), ["pixel_values"], [input], ["image_embeds"]);
                return results[0].GetTensorDataAsSpan<float>().ToArray();
            }

            Assert.True(EdgeRuntime.Generation.Families.Sqnr.Decibels(Encode(committed), Encode(output)) >= 60);
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }
}
