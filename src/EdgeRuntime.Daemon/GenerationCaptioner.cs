using System.Text;
using EdgeRuntime.Protocol;
using EdgeRuntime.Server;
using EdgeRuntime.Triggers;

namespace EdgeRuntime.Daemon;

/// <summary>
/// Captions a camera frame for a caption trigger by asking a loaded vision-language model, through the same generate
/// path a socket client uses: the frame as a uint8 image, an empty prompt, greedy decoding. The model checks the
/// image's size (invalid_image) and the trigger stores that error if it is wrong.
/// </summary>
internal sealed class GenerationCaptioner(IGenerationServices generation) : IFrameCaptioner
{
    public async Task<FrameCaption> CaptionAsync(string model, float[] frame, int height, int width, int maxTokens, CancellationToken cancellationToken)
    {
        // The trigger hands over grey levels 0..255 as floats; the model takes uint8 as such (and scales it itself).
        var pixels = new byte[frame.Length];
        for (int i = 0; i < frame.Length; i++)
        {
            pixels[i] = (byte)Math.Clamp(MathF.Round(frame[i]), 0, 255);
        }

        var request = new GenerateRequest(model)
        {
            Prompt = "",
            MaxTokens = maxTokens,
            Image = new TensorDescriptor("image", "uint8", [height, width], 0, pixels.Length),
        };
        var run = generation.Start(request, pixels);
        using var cancel = cancellationToken.Register(run.Cancel);
        var text = new StringBuilder();
        await foreach (var token in run.Tokens.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
        {
            text.Append(token.Text);
        }

        var summary = await run.Summary.ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        return new FrameCaption(text.ToString(), summary.GeneratedTokens, summary.TimeToFirstTokenMs, summary.TotalMs);
    }
}
