using System.Text;
using EdgeRuntime.Client;
using EdgeRuntime.Generation.Engine;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Integration.Tests;

/// <summary>
/// The committed vision-language model (models/vlm-fashion) served by the published edged: an image sent with
/// generate (edgectl generate --image), and headless, a caption trigger on a replayed camera that stores the caption.
/// Each caption must be the one the engine gives the same pixels in process.
/// </summary>
public sealed class VisionLanguageTests
{
    private const int Side = 28;

    [Fact]
    public async Task An_image_sent_with_generate_and_a_camera_frame_caught_by_a_trigger_are_both_captioned()
    {
        byte[] pixels = TestImage();
        // Test image 0 is an ankle boot whose garment pixels average in the light tertile: the truth, which the
        // trained model gets right (tools/vlm/report.json's samples); in process and through edged alike.
        string expected = await CaptionInProcessAsync(pixels);
        Assert.Equal("a light ankle boot", expected);

        string config = """
            "store": { "path": "results" },
            "generation": { "sessions": 2, "threads": 1 },
            "sensors": [
              { "name": "button", "type": "gpio", "pin": 17, "edge": "rising", "debounceMs": 0, "simulated": true },
              { "name": "camera", "type": "images", "path": "frames", "sampleHz": 20, "loop": true, "realtime": true, "bufferMs": 500 }
            ],
            "triggers": [ { "name": "door", "on": { "gpio": "button" }, "caption": { "model": "vlm", "sensor": "camera", "maxTokens": 12 } } ]
            """;
        string directory = EdgedProcess.Prepare(config, preload: """{ "name": "vlm", "path": "vlm-fashion" }""");
        CopyFolder(Path.Combine(Paths.RepositoryRoot, "models", "vlm-fashion"), Path.Combine(directory, "models", "vlm-fashion"));
        Directory.CreateDirectory(Path.Combine(directory, "frames"));
        string image = Path.Combine(directory, "frames", "000.pgm");
        File.WriteAllBytes(image, [.. Encoding.ASCII.GetBytes($"P5\n{Side} {Side}\n255\n"), .. pixels]);

        await using var edged = await EdgedProcess.StartInAsync(directory);
        var info = await edged.EdgectlAsync("info", "vlm");
        Assert.True(info.ExitCode == 0, info.Stderr);
        Assert.Contains("image      28×28, 1 channel (generate --image) → 4 positions before the prompt; w8a16 encoder", info.Stdout);

        var generated = await edged.EdgectlAsync("generate", "vlm", "--image", image, "--max-tokens", "12");
        Assert.True(generated.ExitCode == 0, generated.Stderr);
        Assert.Equal(expected, generated.Stdout.TrimEnd('\n'));

        // The wrong size, from the shell: the daemon names both.
        string wrong = Path.Combine(directory, "wrong.pgm");
        File.WriteAllBytes(wrong, [.. Encoding.ASCII.GetBytes("P5\n32 32\n255\n"), .. new byte[32 * 32]]);
        var refused = await edged.EdgectlAsync("generate", "vlm", "--image", wrong);
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("invalid_image", refused.Stderr);
        Assert.Contains("28×28", refused.Stderr);

        await using var client = await EdgeClient.ConnectAsync(edged.SocketPath);
        await using var subscription = await client.SubscribeAsync(new SubscribeRequest(Since: 0, Triggers: ["door"]));
        await client.InjectAsync(new InjectRequest("button", "rising"));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var stored = (await subscription.ReadAsync(timeout.Token)).Event;
        Assert.Null(stored.Error);
        Assert.Equal("vlm", stored.Model);
        Assert.Equal(expected, stored.Caption?.Text);
    }

    /// <summary>The first test image of the committed Fashion-MNIST subset.</summary>
    private static byte[] TestImage()
    {
        var images = Formats.NpyFile.Read(Path.Combine(Paths.RepositoryRoot, "samples", "cbnet", "test_images_1000.npy"));
        return images.Data.Span[..(Side * Side)].ToArray();
    }

    private static async Task<string> CaptionInProcessAsync(byte[] pixels)
    {
        using var model = LanguageModel.Load("vlm", Path.Combine(Paths.RepositoryRoot, "models", "vlm-fashion"), new GenerationOptions { IntraOpThreads = 1, Sessions = 1 });
        var run = model.Start(new GenerateRequest("vlm") { Prompt = "", MaxTokens = 12, Image = new TensorDescriptor("image", "uint8", [Side, Side], 0, pixels.Length) }, pixels);
        var text = new StringBuilder();
        await foreach (var token in run.Tokens.ReadAllAsync())
        {
            text.Append(token.Text);
        }

        return text.ToString();
    }

    private static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string file in Directory.GetFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }
    }
}
