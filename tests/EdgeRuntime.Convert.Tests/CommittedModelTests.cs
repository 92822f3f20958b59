using EdgeRuntime.Generation.Folder;
using EdgeRuntime.TestSupport;

namespace EdgeRuntime.Convert.Tests;

/// <summary>models/bitnet-kjv, which the default configuration serves, is exactly what the importer makes of the trained checkpoint.</summary>
public sealed class CommittedModelTests
{
    [Fact]
    public void The_committed_language_model_is_the_import_of_the_trained_checkpoint()
    {
        string committed = Path.Combine(Repository.Root, "models", "bitnet-kjv");
        string checkpoint = Path.Combine(Repository.Root, "tools", "bitnet", "checkpoint");
        string output = Directory.CreateTempSubdirectory("edgeruntime-kjv-").FullName;
        try
        {
            var stdout = new StringWriter();
            var stderr = new StringWriter();
            Assert.Equal(0, ImportCommand.Run([checkpoint, output], stdout, stderr));
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
}
