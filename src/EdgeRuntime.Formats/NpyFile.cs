using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Formats;

/// <summary>
/// Reads and writes NumPy .npy files (format 1.0-3.0), the tensor files ML users already have. Only C-order arrays of
/// numeric and bool dtypes; big-endian data is swapped on read.
/// </summary>
public static class NpyFile
{
    private static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    public static Tensor Read(string path, string? name = null)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidDataException($"Cannot read '{path}': {e.Message}", e);
        }

        return Parse(bytes, name ?? Path.GetFileNameWithoutExtension(path), path);
    }

    public static Tensor Parse(ReadOnlySpan<byte> bytes, string name, string source = "npy data")
    {
        if (bytes.Length < 10 || !bytes[..6].SequenceEqual(Magic))
        {
            throw new InvalidDataException($"{source} is not a .npy file (the magic string \\x93NUMPY is missing).");
        }

        byte major = bytes[6];
        int headerLength;
        int headerStart;
        if (major == 1)
        {
            headerLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes[8..]);
            headerStart = 10;
        }
        else if (major is 2 or 3)
        {
            headerLength = checked((int)BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]));
            headerStart = 12;
        }
        else
        {
            throw new InvalidDataException($"{source}: .npy format version {major} is not supported.");
        }

        if (headerLength < 0 || headerLength > bytes.Length - headerStart)
        {
            throw new InvalidDataException($"{source}: the header runs past the end of the file.");
        }

        string header = Encoding.UTF8.GetString(bytes.Slice(headerStart, headerLength));
        string descr = DictValue(header, "descr", source).Trim('\'', '"');
        string fortran = DictValue(header, "fortran_order", source);
        string shapeText = DictValue(header, "shape", source);
        if (fortran != "False")
        {
            throw new InvalidDataException($"{source}: Fortran-order arrays are not supported; save with np.ascontiguousarray.");
        }

        var (dtype, bigEndian) = ParseDescr(descr, source);
        long[] shape = ParseShape(shapeText, source);
        long count = TensorDTypes.ElementCount(shape) ?? throw new InvalidDataException($"{source}: invalid shape {shapeText}.");
        int dataStart = headerStart + headerLength;
        if (count > (bytes.Length - dataStart) / dtype.ElementSize())
        {
            throw new InvalidDataException($"{source}: shape {shapeText} of {dtype.Name()} needs {count} elements, the file has data for {(bytes.Length - dataStart) / dtype.ElementSize()}.");
        }

        long byteCount = count * dtype.ElementSize();
        if (bytes.Length - dataStart < byteCount)
        {
            throw new InvalidDataException($"{source}: shape {shapeText} of {dtype.Name()} needs {byteCount} bytes of data, the file has {bytes.Length - dataStart}.");
        }

        byte[] data = bytes.Slice(dataStart, (int)byteCount).ToArray();
        if (bigEndian && dtype.ElementSize() > 1)
        {
            SwapBytes(data, dtype.ElementSize());
        }

        return new Tensor(name, dtype, shape, data);
    }

    public static void Write(string path, Tensor tensor)
    {
        using var stream = File.Create(path);
        Write(stream, tensor);
    }

    public static void Write(Stream stream, Tensor tensor)
    {
        string shape = tensor.Shape.Length switch
        {
            0 => "()",
            1 => $"({tensor.Shape[0].ToString(CultureInfo.InvariantCulture)},)",
            _ => "(" + string.Join(", ", tensor.Shape.Select(d => d.ToString(CultureInfo.InvariantCulture))) + ")",
        };
        string dict = $"{{'descr': '{Descr(tensor.DType)}', 'fortran_order': False, 'shape': {shape}, }}";

        // Version 1.0: the magic, version and header length plus the header end on a multiple of 64, with a newline.
        int unpadded = 10 + dict.Length + 1;
        int padding = (64 - (unpadded % 64)) % 64;
        string header = dict + new string(' ', padding) + "\n";
        Span<byte> preamble = stackalloc byte[10];
        Magic.CopyTo(preamble);
        preamble[6] = 1;
        preamble[7] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(preamble[8..], checked((ushort)header.Length));
        stream.Write(preamble);
        stream.Write(Encoding.ASCII.GetBytes(header));
        stream.Write(tensor.Data.Span);
    }

    public static string Descr(TensorDType dtype) => dtype switch
    {
        TensorDType.Float32 => "<f4",
        TensorDType.Float16 => "<f2",
        TensorDType.Float64 => "<f8",
        TensorDType.Int8 => "|i1",
        TensorDType.UInt8 => "|u1",
        TensorDType.Int16 => "<i2",
        TensorDType.UInt16 => "<u2",
        TensorDType.Int32 => "<i4",
        TensorDType.UInt32 => "<u4",
        TensorDType.Int64 => "<i8",
        TensorDType.UInt64 => "<u8",
        TensorDType.Bool => "|b1",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };

    private static (TensorDType DType, bool BigEndian) ParseDescr(string descr, string source)
    {
        if (descr.Length < 3)
        {
            throw new InvalidDataException($"{source}: dtype '{descr}' is not supported.");
        }

        char order = descr[0];
        bool bigEndian = order == '>' || (order == '=' && !BitConverter.IsLittleEndian);
        TensorDType? dtype = descr[1..] switch
        {
            "f4" => TensorDType.Float32,
            "f2" => TensorDType.Float16,
            "f8" => TensorDType.Float64,
            "i1" => TensorDType.Int8,
            "u1" => TensorDType.UInt8,
            "i2" => TensorDType.Int16,
            "u2" => TensorDType.UInt16,
            "i4" => TensorDType.Int32,
            "u4" => TensorDType.UInt32,
            "i8" => TensorDType.Int64,
            "u8" => TensorDType.UInt64,
            "b1" => TensorDType.Bool,
            _ => null,
        };
        return dtype is { } value
            ? (value, bigEndian)
            : throw new InvalidDataException($"{source}: dtype '{descr}' is not supported (numeric and bool dtypes only).");
    }

    private static long[] ParseShape(string text, string source)
    {
        string inner = text.Trim().TrimStart('(').TrimEnd(')');
        var dims = new List<long>();
        foreach (string part in inner.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!long.TryParse(part.TrimEnd('L'), NumberStyles.None, CultureInfo.InvariantCulture, out long dim))
            {
                throw new InvalidDataException($"{source}: cannot read shape {text}.");
            }

            dims.Add(dim);
        }

        return [.. dims];
    }

    /// <summary>The text of one value in the header's Python dict literal.</summary>
    private static string DictValue(string header, string key, string source)
    {
        int keyIndex = header.IndexOf($"'{key}'", StringComparison.Ordinal);
        if (keyIndex < 0)
        {
            keyIndex = header.IndexOf($"\"{key}\"", StringComparison.Ordinal);
        }

        if (keyIndex < 0)
        {
            throw new InvalidDataException($"{source}: the header has no '{key}'.");
        }

        int colon = header.IndexOf(':', keyIndex);
        int start = colon + 1;
        while (start < header.Length && header[start] == ' ')
        {
            start++;
        }

        int end = start;
        if (end < header.Length && header[end] == '(')
        {
            end = header.IndexOf(')', end) + 1;
        }
        else
        {
            while (end < header.Length && header[end] != ',' && header[end] != '}')
            {
                end++;
            }
        }

        if (colon < 0 || end <= start)
        {
            throw new InvalidDataException($"{source}: cannot read '{key}' in the header.");
        }

        return header[start..end].Trim();
    }

    private static void SwapBytes(Span<byte> data, int size)
    {
        for (int i = 0; i + size <= data.Length; i += size)
        {
            data.Slice(i, size).Reverse();
        }
    }
}
