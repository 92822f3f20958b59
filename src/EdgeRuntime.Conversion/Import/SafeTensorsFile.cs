using System.Buffers.Binary;
using System.Text.Json;

namespace EdgeRuntime.Conversion.Import;

/// <summary>One tensor of a safetensors file: its dtype name as the file spells it ("BF16", "U8"), shape and bytes.</summary>
internal sealed record SafeTensor(string Name, string DType, long[] Shape, long Offset, long Length, SafeTensorsFile File)
{
    public long Elements => Shape.Aggregate(1L, (a, b) => a * b);

    public string ShapeText => $"[{string.Join(", ", Shape)}]";

    public ReadOnlySpan<byte> Bytes() => File.Mapped.Span(Offset, Length, $"tensor {Name}");
}

/// <summary>
/// A safetensors file (huggingface/safetensors' format): an 8-byte little-endian header length, a JSON header
/// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}} and then the raw little-endian data, the
/// offsets counted from the end of the header. The file is memory-mapped; only the header is parsed up front.
/// </summary>
internal sealed class SafeTensorsFile : IDisposable
{
    // safetensors itself refuses headers over 100 MB; a larger length means the file is something else.
    private const long MaxHeaderBytes = 100_000_000;

    private readonly Dictionary<string, SafeTensor> _tensors = new(StringComparer.Ordinal);

    private SafeTensorsFile(MappedFile mapped) => Mapped = mapped;

    public MappedFile Mapped { get; }

    public IReadOnlyDictionary<string, SafeTensor> Tensors => _tensors;

    public static SafeTensorsFile Open(string path)
    {
        var mapped = new MappedFile(path);
        var file = new SafeTensorsFile(mapped);
        try
        {
            file.ReadHeader();
            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    public void Dispose() => Mapped.Dispose();

    /// <summary>Bytes per element of the dtypes safetensors defines; null for a name it does not.</summary>
    public static int? ElementSize(string dtype) => dtype switch
    {
        "BOOL" or "U8" or "I8" or "F8_E5M2" or "F8_E4M3" => 1,
        "I16" or "U16" or "F16" or "BF16" => 2,
        "I32" or "U32" or "F32" => 4,
        "I64" or "U64" or "F64" => 8,
        _ => null,
    };

    private void ReadHeader()
    {
        string path = Mapped.Path;
        long headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(Mapped.Span(0, 8, "the header length"));
        if (headerLength is 0 or > MaxHeaderBytes)
        {
            throw new InvalidDataException($"{path} is not a safetensors file: its first 8 bytes give a header of {headerLength} bytes.");
        }

        long dataStart = 8 + headerLength;
        byte[] header = Mapped.Span(8, headerLength, "the JSON header").ToArray();
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(header);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path} is not a safetensors file: its header is not JSON ({e.Message}).", e);
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"{path} is not a safetensors file: its header is not a JSON object.");
            }

            foreach (var entry in document.RootElement.EnumerateObject())
            {
                if (entry.Name == "__metadata__")
                {
                    continue;
                }

                var tensor = ReadTensor(path, entry, dataStart);
                _tensors[tensor.Name] = tensor;
                long end = tensor.Offset + tensor.Length;
                if (end > Mapped.Length)
                {
                    throw new InvalidDataException($"{path} is truncated: tensor {tensor.Name} ends at byte {end} but the file has {Mapped.Length}.");
                }
            }
        }
    }

    private SafeTensor ReadTensor(string path, JsonProperty entry, long dataStart)
    {
        var value = entry.Value;
        if (value.ValueKind != JsonValueKind.Object
            || !value.TryGetProperty("dtype", out var dtype) || dtype.ValueKind != JsonValueKind.String
            || !value.TryGetProperty("shape", out var shape) || shape.ValueKind != JsonValueKind.Array
            || !value.TryGetProperty("data_offsets", out var offsets) || offsets.ValueKind != JsonValueKind.Array || offsets.GetArrayLength() != 2)
        {
            throw new InvalidDataException($"{path}: the header entry of {entry.Name} is not {{dtype, shape, data_offsets: [begin, end]}}.");
        }

        var dims = new long[shape.GetArrayLength()];
        int i = 0;
        foreach (var dim in shape.EnumerateArray())
        {
            dims[i++] = dim.TryGetInt64(out long d) && d >= 0 ? d : throw new InvalidDataException($"{path}: tensor {entry.Name} has the dimension {dim.GetRawText()}.");
        }

        if (!offsets[0].TryGetInt64(out long begin) || !offsets[1].TryGetInt64(out long end) || begin < 0 || end < begin)
        {
            throw new InvalidDataException($"{path}: tensor {entry.Name} has the data offsets {offsets.GetRawText()}.");
        }

        string type = dtype.GetString()!;
        var tensor = new SafeTensor(entry.Name, type, dims, dataStart + begin, end - begin, this);
        if (ElementSize(type) is { } size && tensor.Elements * size != tensor.Length)
        {
            throw new InvalidDataException($"{path}: tensor {entry.Name} is {type} {tensor.ShapeText}, {tensor.Elements * size} bytes, but its data offsets span {tensor.Length}.");
        }

        return tensor;
    }
}
