using EdgeRuntime.Client;
using EdgeRuntime.Formats;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Cli;

/// <summary>edgectl generate: one prompt, its answer streamed to stdout and its summary to stderr.</summary>
internal static class GenerateCommand
{
    /// <summary>The exit code of a generation stopped with Ctrl+C, as a shell reports a program ended by SIGINT.</summary>
    public const int Interrupted = 130;

    /// <param name="image">An image for a vision-language model (<see cref="ReadImage"/>), or null.</param>
    public static async Task<int> RunAsync(EdgeClient client, GenerateRequest request, Terminal terminal, bool json, Tensor? image = null)
    {
        var (_, summary) = await StreamedGeneration.RunAsync(client, request, terminal, json, image).ConfigureAwait(false);
        return summary.StopReason == StopReasons.Cancelled ? Interrupted : 0;
    }

    /// <summary>
    /// A binary PGM or PPM file as the image of a generate request: float32 in [0, 1], [height, width] for grey and
    /// [3, height, width] (planes, as the encoder reads them) for colour. The daemon checks the size against the model.
    /// </summary>
    public static Tensor ReadImage(string path)
    {
        var image = NetpbmImage.Read(path);
        if (image.Colours == 1)
        {
            return Tensor.Float32("image", [image.Height, image.Width], image.Pixels);
        }

        int plane = image.Width * image.Height;
        var planes = new float[image.Colours * plane];
        for (int i = 0; i < plane; i++)
        {
            for (int c = 0; c < image.Colours; c++)
            {
                planes[(c * plane) + i] = image.Pixels[(i * image.Colours) + c];
            }
        }

        return Tensor.Float32("image", [image.Colours, image.Height, image.Width], planes);
    }
}
