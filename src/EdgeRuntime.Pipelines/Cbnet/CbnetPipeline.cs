using EdgeRuntime.Formats;
using EdgeRuntime.Pipelines.Live;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Pipelines.Cbnet;

/// <summary>
/// A CBNet cascade as a pipeline: the input "image" is a 28×28 PGM/PPM, or an .npy of one 28×28 image or of N of them
/// (then an index picks one), uint8 pixels or float32 in [0,1], or a camera: then the first frame it takes after the
/// run's start, made grey and shrunk to 28×28, is classified and kept with the result. Each run classifies one image in
/// the requested mode.
/// </summary>
public sealed class CbnetPipeline : IPipeline
{
    // The models take 28x28 grey images, as Fashion-MNIST's are.
    private const int ImagePixels = 28 * 28;

    private const int Side = 28;

    private readonly CbnetCascade _cascade;
    private readonly LiveSensors? _live;
    private long _runs, _failures;

    private CbnetPipeline(PipelineDefinition definition, CbnetCascade cascade, LiveSensors? live)
    {
        Definition = definition;
        _cascade = cascade;
        _live = live;
    }

    public PipelineDefinition Definition { get; }

    public IReadOnlyList<string> ModelNames => _cascade.ModelNames;

    public static async Task<CbnetPipeline> LoadAsync(PipelineDefinition definition, string manifestPath, ModelInvoker invoker, string[]? providers, CancellationToken cancellationToken, LiveSensors? live = null)
    {
        CheckCamera(definition.Inputs, live);
        return new(definition, await CbnetCascade.LoadAsync(definition.Name, manifestPath, invoker, providers, cancellationToken).ConfigureAwait(false), live);
    }

    /// <summary>A camera input must be a camera of at least 28×28 (any frame rate: a run takes one frame).</summary>
    private static void CheckCamera(IReadOnlyDictionary<string, PipelineInput> inputs, LiveSensors? live)
    {
        foreach (var (name, input) in inputs)
        {
            if (input.Sensor is { } sensor)
            {
                if (name != "image")
                {
                    throw new InvalidDataException($"input '{name}' names sensor '{sensor}'; a CBNet pipeline reads one input, 'image'.");
                }

                (live ?? throw new InvalidDataException($"input 'image' names sensor '{sensor}', and this daemon has no sensors."))
                    .CheckCamera(name, sensor, null, Side, Side, "classifier");
            }
        }
    }

    public PipelineStatus Status() =>
        new(Definition.Name, CbnetCascade.Kind, Definition.Manifest, Interlocked.Read(ref _runs), Interlocked.Read(ref _failures));

    public Task<PipelineResult> RunAsync(PipelineRunRequest request, string inputDirectory, CancellationToken cancellationToken) =>
        RunAsync(request, inputDirectory, null, cancellationToken);

    public async Task<PipelineResult> RunAsync(PipelineRunRequest request, string inputDirectory, long? firedAt, CancellationToken cancellationToken)
    {
        var inputs = PipelineInputs.For(Definition, request);
        if (!inputs.TryGetValue("image", out var input))
        {
            throw new EdgeRuntimeException(ErrorCodes.BadRequest, $"Pipeline '{Definition.Name}' needs an input 'image' (a 28x28 .pgm, an .npy of one 28x28 image, or of N with an index, or a camera).");
        }

        try
        {
            CheckCamera(inputs, _live);
        }
        catch (InvalidDataException e)
        {
            throw new EdgeRuntimeException(ErrorCodes.BadRequest, $"Pipeline '{Definition.Name}': {e.Message}");
        }

        var start = PipelineInputs.Start(Definition.Name, inputs, request, "realtime", _live, firedAt);
        // A bad file is the caller's mistake, refused before the run is counted; a camera is read inside the run.
        float[]? image = start is null ? ReadImage(Path.GetFullPath(Path.Combine(inputDirectory, input.Path!)), request.Index) : null;
        Interlocked.Increment(ref _runs);
        try
        {
            if (start is null)
            {
                return await _cascade.RunAsync(image!, request.Mode ?? "cascade", Definition.Gate, cancellationToken).ConfigureAwait(false);
            }

            var frame = await _live!.CaptureAsync("image", input.Sensor!, start, cancellationToken).ConfigureAwait(false);
            float[] classified = FrameConversion.Shrink(frame.Grey, frame.Width, frame.Height, Side, Side);
            var result = await _cascade.RunAsync(classified, request.Mode ?? "cascade", Definition.Gate, cancellationToken).ConfigureAwait(false);
            return result with
            {
                Live = [new LiveInputTrace("image", input.Sensor!, _live.RateOf(input.Sensor!), _live.WindowStartMs(start))],
                Frame = new CapturedFrame(frame.Width, frame.Height, FrameConversion.ToBytes(frame.Grey)),
            };
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
