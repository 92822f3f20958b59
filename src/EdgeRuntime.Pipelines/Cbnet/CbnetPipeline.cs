using EdgeRuntime.Formats;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Pipelines.Cbnet;

/// <summary>
/// A CBNet cascade as a pipeline: the input "image" is a 28×28 PGM/PPM, or an .npy of one 28×28 image or of N of them
/// (then an index picks one), uint8 pixels or float32 in [0,1]. Each run classifies one image in the requested mode.
/// </summary>
public sealed class CbnetPipeline : IPipeline
{
    // The models take 28x28 grey images, as Fashion-MNIST's are.
    private const int ImagePixels = 28 * 28;

    private readonly CbnetCascade _cascade;
    private long _runs, _failures;

    private CbnetPipeline(PipelineDefinition definition, CbnetCascade cascade)
    {
        Definition = definition;
        _cascade = cascade;
    }

    public PipelineDefinition Definition { get; }

    public IReadOnlyList<string> ModelNames => _cascade.ModelNames;

    public static async Task<CbnetPipeline> LoadAsync(PipelineDefinition definition, string manifestPath, ModelInvoker invoker, string[]? providers, CancellationToken cancellationToken) =>
        new(definition, await CbnetCascade.LoadAsync(definition.Name, manifestPath, invoker, providers, cancellationToken).ConfigureAwait(false));

    public PipelineStatus Status() =>
        new(Definition.Name, CbnetCascade.Kind, Definition.Manifest, Interlocked.Read(ref _runs), Interlocked.Read(ref _failures));

    public async Task<PipelineResult> RunAsync(PipelineRunRequest request, string inputDirectory, CancellationToken cancellationToken)
    {
        var inputs = PipelineInputs.For(Definition, request);
        if (!inputs.TryGetValue("image", out string? path))
        {
            throw new EdgeRuntimeException(ErrorCodes.BadRequest, $"Pipeline '{Definition.Name}' needs an input 'image' (a 28x28 .pgm, an .npy of one 28x28 image, or of N with an index).");
        }

        float[] image = ReadImage(Path.GetFullPath(Path.Combine(inputDirectory, path)), request.Index);
        Interlocked.Increment(ref _runs);
        try
        {
            return await _cascade.RunAsync(image, request.Mode ?? "cascade", Definition.Gate, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Interlocked.Increment(ref _failures);
            throw;
        }
    }

    private static float[] ReadImage(string path, int? index)
    {
        if (NetpbmImage.IsImageFile(path))
        {
            return ReadPicture(path);
        }

        Tensor tensor;
        try
        {
            tensor = NpyFile.Read(path);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException or ArgumentException)
        {
            throw new EdgeRuntimeException(ErrorCodes.InvalidInput, $"image: cannot read '{path}': {e.Message}");
        }

        int pixels = ImagePixels;
        long count = tensor.Shape.Aggregate(1L, (product, dimension) => product * dimension);
        long items = count / pixels;
        if (count % pixels != 0 || items == 0)
        {
            throw new EdgeRuntimeException(ErrorCodes.InvalidInput, $"image: '{path}' is [{string.Join(",", tensor.Shape)}]; the models take 28x28 images.");
        }

        int item = index ?? (items == 1 ? 0 : throw new EdgeRuntimeException(ErrorCodes.InvalidInput, $"image: '{path}' holds {items} images; say which with an index."));
        if (item < 0 || item >= items)
        {
            throw new EdgeRuntimeException(ErrorCodes.InvalidInput, $"image: index {item} is outside the {items} images in '{path}'.");
        }

        return PixelArrays.Item(tensor, item, (int)items, "image", path);
    }

    /// <summary>One PGM/PPM picture, 28×28; colour is turned grey as Fashion-MNIST is.</summary>
    private static float[] ReadPicture(string path)
    {
        NetpbmImage image;
        try
        {
            image = NetpbmImage.Read(path);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            throw new EdgeRuntimeException(ErrorCodes.InvalidInput, $"image: cannot read '{path}': {e.Message}");
        }

        if (image.Width * image.Height != ImagePixels)
        {
            throw new EdgeRuntimeException(ErrorCodes.InvalidInput, $"image: '{path}' is {image.Width}x{image.Height}; the models take 28x28 images.");
        }

        return image.Grey();
    }
}
