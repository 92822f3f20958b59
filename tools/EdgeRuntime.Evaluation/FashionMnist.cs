using System.Buffers.Binary;
using System.IO.Compression;
using EdgeRuntime.Formats;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Evaluation;

/// <summary>Grey 28×28 images, row by row and one after another in <see cref="Pixels"/>, with one label each.</summary>
public sealed record LabeledImages(byte[] Pixels, byte[] Labels)
{
    public int Count => Labels.Length;

    public ReadOnlySpan<byte> Image(int index) => Pixels.AsSpan(index * FashionMnist.ImagePixels, FashionMnist.ImagePixels);

    /// <summary>The first <paramref name="count"/> images (all of them when there are fewer).</summary>
    public LabeledImages Take(int count)
    {
        int n = Math.Min(count, Count);
        return new LabeledImages(Pixels[..(n * FashionMnist.ImagePixels)], Labels[..n]);
    }
}

/// <summary>
/// Reads Fashion-MNIST: the IDX files as published (gzip-compressed, as Debian's dataset-fashion-mnist installs them)
/// and the .npy subset committed beside the CBNet models.
/// </summary>
public static class FashionMnist
{
    public const int Side = 28;

    public const int ImagePixels = Side * Side;

    /// <summary>Where the Debian package dataset-fashion-mnist puts the files.</summary>
    public const string DebianFolder = "/usr/share/datasets/fashion-mnist";

    private const int ImagesMagic = 2051;
    private const int LabelsMagic = 2049;

    /// <summary>The folder holding the 10 000-image test split, or null when the Debian package is not installed.</summary>
    public static string? DebianTestSetPath =>
        File.Exists(Path.Combine(DebianFolder, "t10k-images-idx3-ubyte.gz")) && File.Exists(Path.Combine(DebianFolder, "t10k-labels-idx1-ubyte.gz"))
            ? DebianFolder
            : null;

    /// <summary>The test split from a folder holding t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz.</summary>
    public static LabeledImages ReadTestSet(string folder) =>
        ReadIdx(Path.Combine(folder, "t10k-images-idx3-ubyte.gz"), Path.Combine(folder, "t10k-labels-idx1-ubyte.gz"));

    /// <summary>Reads a pair of gzip-compressed IDX files (big-endian header: magic, count, then rows and columns for images).</summary>
    public static LabeledImages ReadIdx(string imagesPath, string labelsPath)
    {
        byte[] images = Gunzip(imagesPath);
        byte[] labels = Gunzip(labelsPath);
        int imageCount = ReadHeader(images, imagesPath, ImagesMagic, 16);
        int rows = BinaryPrimitives.ReadInt32BigEndian(images.AsSpan(8));
        int columns = BinaryPrimitives.ReadInt32BigEndian(images.AsSpan(12));
        if (rows != Side || columns != Side)
        {
            throw new InvalidDataException($"'{imagesPath}' holds {rows}×{columns} images; Fashion-MNIST's are {Side}×{Side}.");
        }

        int labelCount = ReadHeader(labels, labelsPath, LabelsMagic, 8);
        if (labelCount != imageCount)
        {
            throw new InvalidDataException($"'{imagesPath}' holds {imageCount} images but '{labelsPath}' {labelCount} labels.");
        }

        CheckLength(images, imagesPath, 16, (long)imageCount * ImagePixels);
        CheckLength(labels, labelsPath, 8, labelCount);
        return Checked(new LabeledImages(images[16..], labels[8..]), labelsPath);
    }

    /// <summary>Reads uint8 [N,28,28] images and uint8 [N] labels saved with numpy.save.</summary>
    public static LabeledImages ReadNpy(string imagesPath, string labelsPath)
    {
        var images = NpyFile.Read(imagesPath);
        var labels = NpyFile.Read(labelsPath);
        if (images.DType != TensorDType.UInt8 || images.Shape is not [_, Side, Side])
        {
            throw new InvalidDataException($"'{imagesPath}' holds {images.DType.Name()} [{string.Join(",", images.Shape)}]; Fashion-MNIST images are uint8 [N,{Side},{Side}].");
        }

        if (labels.DType != TensorDType.UInt8 || labels.Shape is not [var n] || n != images.Shape[0])
        {
            throw new InvalidDataException($"'{labelsPath}' holds {labels.DType.Name()} [{string.Join(",", labels.Shape)}]; the labels of '{imagesPath}' are uint8 [{images.Shape[0]}].");
        }

        return Checked(new LabeledImages(images.Data.ToArray(), labels.Data.ToArray()), labelsPath);
    }

    /// <summary>One image as the CBNet models take it: 784 floats, pixels/255.</summary>
    public static float[] ToInput(ReadOnlySpan<byte> image)
    {
        if (image.Length != ImagePixels)
        {
            throw new ArgumentException($"An image has {ImagePixels} pixels; this one has {image.Length}.", nameof(image));
        }

        var values = new float[ImagePixels];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = image[i] / 255f;
        }

        return values;
    }

    private static byte[] Gunzip(string path)
    {
        try
        {
            using var file = File.OpenRead(path);
            using var gzip = new GZipStream(file, CompressionMode.Decompress);
            using var buffer = new MemoryStream();
            gzip.CopyTo(buffer);
            return buffer.ToArray();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidDataException($"Cannot read '{path}' as a gzip-compressed IDX file: {e.Message}", e);
        }
    }

    /// <summary>Checks the magic number and returns the item count.</summary>
    private static int ReadHeader(byte[] data, string path, int magic, int headerLength)
    {
        // The magic number first: a swapped or foreign file is named as such, not as merely too short.
        int found = data.Length >= 4 ? BinaryPrimitives.ReadInt32BigEndian(data) : -1;
        if (found != magic)
        {
            throw new InvalidDataException($"'{path}' starts with magic number {found}; an IDX {(magic == ImagesMagic ? "image" : "label")} file starts with {magic}.");
        }

        if (data.Length < headerLength)
        {
            throw new InvalidDataException($"'{path}' is too short for an IDX header ({data.Length} bytes).");
        }

        int count = BinaryPrimitives.ReadInt32BigEndian(data.AsSpan(4));
        return count >= 0 ? count : throw new InvalidDataException($"'{path}' declares {count} items.");
    }

    private static void CheckLength(byte[] data, string path, int headerLength, long expected)
    {
        if (data.Length - headerLength != expected)
        {
            throw new InvalidDataException($"'{path}' has {data.Length - headerLength} bytes of data after its header; its header declares {expected}.");
        }
    }

    /// <summary>Fashion-MNIST has ten classes; a label outside 0-9 means the file is something else.</summary>
    private static LabeledImages Checked(LabeledImages set, string labelsPath)
    {
        int bad = Array.FindIndex(set.Labels, l => l > 9);
        return bad < 0 ? set : throw new InvalidDataException($"'{labelsPath}': label {set.Labels[bad]} at {bad} is not a Fashion-MNIST class (0-9).");
    }
}
