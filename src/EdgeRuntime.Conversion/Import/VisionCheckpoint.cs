using System.Buffers.Binary;
using System.IO.Compression;
using System.Text.Json;
using EdgeRuntime.Generation.Families.Lfm2;
using EdgeRuntime.Generation.Families.Vision;
using EdgeRuntime.Generation.Folder;

namespace EdgeRuntime.Conversion.Import;

/// <summary>
/// The image side of a vision-language checkpoint (tools/vlm/train.py's layout, docs/language-models.md): config.json's
/// <c>vision_config</c> (<c>model_type</c> "edgeruntime_mobilenet", <c>image_size</c>, <c>num_channels</c>, <c>layers</c>
/// [{kind, channels, stride}], <c>pool_kernel</c>, <c>pool_stride</c>, <c>image_tokens</c>, <c>projector_hidden_size</c>),
/// and the tensors <c>vision_tower.layers.N.weight/bias</c> and <c>multi_modal_projector.linear_1/linear_2.weight/bias</c>.
/// </summary>
internal static class VisionCheckpoint
{
    public const string TowerPrefix = "vision_tower.";
    public const string ProjectorPrefix = "multi_modal_projector.";
    public const string ModelType = "edgeruntime_mobilenet";

    /// <summary>The calibration images train.py writes beside the checkpoint (IDX, uint8).</summary>
    public const string CalibrationImagesFile = "calibration-images-idx3-ubyte";

    public static bool IsPresent(JsonFields json) => json.Object("vision_config") is not null;

    public static (VisionSettings Settings, VisionWeights Weights) Read(JsonFields json, SafeTensorsCheckpoint checkpoint, int hidden, string quantization)
    {
        var v = json.Object("vision_config")!.Value;
        if (v.OptionalString("model_type") != ModelType)
        {
            throw new InvalidDataException($"{json.Path}: vision_config.model_type is \"{v.OptionalString("model_type")}\"; the importer reads \"{ModelType}\" encoders (tools/vlm/train.py).");
        }

        int side = v.Int("image_size");
        int channels = v.Int("num_channels");
        if (!v.Root.TryGetProperty("layers", out var layerList) || layerList.ValueKind != JsonValueKind.Array || layerList.GetArrayLength() == 0)
        {
            throw new InvalidDataException($"{json.Path}: vision_config.layers must be a non-empty list of {{kind, channels, stride}}.");
        }

        var layers = new List<VisionConvLayer>();
        int inChannels = channels;
        int i = 0;
        foreach (var element in layerList.EnumerateArray())
        {
            var layer = new JsonFields($"{json.Path} vision_config.layers[{i}]", element);
            string kind = layer.OptionalString("kind") ?? "";
            if (!VisionLayerKinds.All.Contains(kind))
            {
                throw new InvalidDataException($"{layer.Path}: kind is \"{kind}\"; a layer is one of {string.Join(", ", VisionLayerKinds.All)}.");
            }

            int outChannels = layer.Int("channels");
            if (kind == VisionLayerKinds.Depthwise && outChannels != inChannels)
            {
                throw new InvalidDataException($"{layer.Path}: a depthwise layer keeps its {inChannels} channels; it says {outChannels}.");
            }

            int kernel = kind == VisionLayerKinds.Pointwise ? 1 : 3;
            int groups = kind == VisionLayerKinds.Depthwise ? inChannels : 1;
            string name = $"{TowerPrefix}layers.{i}.";
            var weight = HfTensors.ReadFloats(checkpoint.Get(name + "weight"), [outChannels, inChannels / groups, kernel, kernel]);
            var bias = HfTensors.ReadFloats(checkpoint.Get(name + "bias"), [outChannels]);
            layers.Add(new VisionConvLayer(kind, inChannels, outChannels, layer.OptionalInt("stride") ?? 1, weight, bias));
            inChannels = outChannels;
            i++;
        }

        int projectorHidden = v.OptionalInt("projector_hidden_size") ?? hidden;
        DenseMatrix Matrix(string tensor, int rows, int columns) => new(HfTensors.ReadFloats(checkpoint.Get(ProjectorPrefix + tensor), [rows, columns]), rows, columns);
        float[] Vector(string tensor, int length) => HfTensors.ReadFloats(checkpoint.Get(ProjectorPrefix + tensor), [length]);
        var weights = new VisionWeights(
            [.. layers],
            v.Int("pool_kernel"),
            v.Int("pool_stride"),
            Matrix("linear_1.weight", projectorHidden, inChannels),
            Vector("linear_1.bias", projectorHidden),
            Matrix("linear_2.weight", hidden, projectorHidden),
            Vector("linear_2.bias", hidden));
        var settings = new VisionSettings
        {
            ImageHeight = side,
            ImageWidth = side,
            Channels = channels,
            ImageTokens = v.Int("image_tokens"),
            Quantization = quantization,
        };
        return (settings, weights);
    }

    /// <summary>The names the image side may use, so the LFM2 importer's check for unknown tensors lets them through.</summary>
    public static bool IsVisionTensor(string name) => name.StartsWith(TowerPrefix, StringComparison.Ordinal) || name.StartsWith(ProjectorPrefix, StringComparison.Ordinal);

    /// <summary>
    /// Calibration images from an IDX file of uint8 images (as Fashion-MNIST publishes them; gzip-compressed when the
    /// name ends in .gz), each scaled to [0, 1]; at most <paramref name="limit"/>.
    /// </summary>
    public static List<float[]> ReadImages(string path, VisionSettings settings, int limit = 256)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"The calibration images {path} do not exist.", path);
        }

        byte[] raw;
        using (var file = File.OpenRead(path))
        using (var stream = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionMode.Decompress) : (Stream)file)
        using (var buffer = new MemoryStream())
        {
            stream.CopyTo(buffer);
            raw = buffer.ToArray();
        }

        if (raw.Length < 16 || BinaryPrimitives.ReadInt32BigEndian(raw) != 2051)
        {
            throw new InvalidDataException($"{path} is not an IDX file of uint8 images (magic 2051).");
        }

        int count = BinaryPrimitives.ReadInt32BigEndian(raw.AsSpan(4));
        int rows = BinaryPrimitives.ReadInt32BigEndian(raw.AsSpan(8));
        int columns = BinaryPrimitives.ReadInt32BigEndian(raw.AsSpan(12));
        int pixels = settings.ImageHeight * settings.ImageWidth * settings.Channels;
        if (rows != settings.ImageHeight || columns != settings.ImageWidth || settings.Channels != 1)
        {
            throw new InvalidDataException($"{path} holds {rows}×{columns} grey images; the encoder takes {settings.ImageHeight}×{settings.ImageWidth} with {settings.Channels} channel(s).");
        }

        if (raw.Length < 16 + ((long)count * pixels))
        {
            throw new InvalidDataException($"{path} says it holds {count} images but is {raw.Length} bytes long.");
        }

        var images = new List<float[]>();
        for (int n = 0; n < Math.Min(count, limit); n++)
        {
            var image = new float[pixels];
            for (int p = 0; p < pixels; p++)
            {
                image[p] = raw[16 + (n * pixels) + p] / 255f;
            }

            images.Add(image);
        }

        return images;
    }
}
