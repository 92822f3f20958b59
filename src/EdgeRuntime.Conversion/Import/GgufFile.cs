using System.Buffers.Binary;
using System.Text;

namespace EdgeRuntime.Conversion.Import;

/// <summary>One tensor of a GGUF file: ggml's dimensions (ne[0] is the innermost, a row's length), type and bytes.</summary>
internal sealed record GgufTensor(string Name, long[] Dims, uint Type, long Offset, GgufFile File)
{
    public long Elements => Dims.Aggregate(1L, (a, b) => a * b);

    /// <summary>The shape as llama.cpp prints it: {ne0, ne1, ...}.</summary>
    public string ShapeText => $"{{{string.Join(", ", Dims)}}}";

    public ReadOnlySpan<byte> Bytes(long length) => File.Mapped.Span(Offset, length, $"tensor {Name}");
}

/// <summary>
/// A GGUF file (ggml's docs/gguf.md; the reader in the ggml fork's <c>ggml.c</c>, gguf_init_from_file): the magic
/// "GGUF", a uint32 version (2 or 3: 64-bit counts), the tensor and key/value counts, the metadata (each a string key,
/// a uint32 value type and the value; arrays carry their element type and count), then per tensor its name, dimension
/// count, dimensions, ggml type and offset, and at the next multiple of general.alignment (default 32) the data, every
/// tensor's offset counted from there. Little-endian. The file is memory-mapped; tensors are read on demand.
/// </summary>
internal sealed class GgufFile : IDisposable
{
    public const uint Magic = 0x46554747; // "GGUF" read as a little-endian uint32
    public const int DefaultAlignment = 32;

    private readonly Dictionary<string, object> _metadata = new(StringComparer.Ordinal);
    private readonly Dictionary<string, GgufTensor> _tensors = new(StringComparer.Ordinal);
    private long _position;

    private GgufFile(MappedFile mapped) => Mapped = mapped;

    public MappedFile Mapped { get; }

    public uint Version { get; private set; }

    /// <summary>
    /// The metadata values: integers as long (ulong beyond long's range), float32 as float, float64 as double, bool,
    /// string, and arrays as long[], double[], bool[], string[] or object[] (arrays of arrays).
    /// </summary>
    public IReadOnlyDictionary<string, object> Metadata => _metadata;

    public IReadOnlyDictionary<string, GgufTensor> Tensors => _tensors;

    public static bool HasMagic(string path)
    {
        using var stream = File.OpenRead(path);
        Span<byte> head = stackalloc byte[4];
        return stream.ReadAtLeast(head, 4, throwOnEndOfStream: false) == 4 && BinaryPrimitives.ReadUInt32LittleEndian(head) == Magic;
    }

    public static GgufFile Open(string path)
    {
        var file = new GgufFile(new MappedFile(path));
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

    public string? String(string key) => _metadata.GetValueOrDefault(key) as string;

    public long? Integer(string key) => _metadata.GetValueOrDefault(key) switch
    {
        long value => value,
        null => null,
        var other => throw new InvalidDataException($"{Mapped.Path}: metadata {key} is {Describe(other)}, not an integer."),
    };

    /// <summary>
    /// A number; a float32 value reads back as the shortest decimal that round-trips it, so the 1e-5 a converter
    /// stored as float32 is 1e-5 again, not 9.99999974738e-06.
    /// </summary>
    public double? Number(string key) => _metadata.GetValueOrDefault(key) switch
    {
        float value => double.Parse(value.ToString(System.Globalization.CultureInfo.InvariantCulture), System.Globalization.CultureInfo.InvariantCulture),
        double value => value,
        long value => value,
        null => null,
        var other => throw new InvalidDataException($"{Mapped.Path}: metadata {key} is {Describe(other)}, not a number."),
    };

    public T[]? Array<T>(string key) => _metadata.GetValueOrDefault(key) switch
    {
        T[] values => values,
        null => null,
        var other => throw new InvalidDataException($"{Mapped.Path}: metadata {key} is {Describe(other)}, not an array of {typeof(T).Name}."),
    };

    private static string Describe(object value) => value switch
    {
        string => "a string",
        System.Array array => $"an array of {array.Length}",
        _ => $"the {value.GetType().Name} {value}",
    };

    private void ReadHeader()
    {
        string path = Mapped.Path;
        if (BinaryPrimitives.ReadUInt32LittleEndian(Read(4, "the magic")) != Magic)
        {
            throw new InvalidDataException($"{path} is not a GGUF file: it does not start with \"GGUF\".");
        }

        Version = UInt32("the version");
        if (Version is not (2 or 3))
        {
            throw new InvalidDataException(Version is 1
                ? $"{path} is GGUF version 1 (32-bit counts), which the importer does not read; versions 2 and 3 are read."
                : $"{path} declares GGUF version {Version} (0x{Version:X8}); versions 2 and 3 (little-endian) are read.");
        }

        long tensorCount = Count("the tensor count");
        long keyCount = Count("the metadata count");
        for (long i = 0; i < keyCount; i++)
        {
            string key = ReadString("a metadata key");
            uint type = UInt32($"the type of {key}");
            _metadata[key] = ReadValue(type, key);
        }

        var infos = new List<(string Name, long[] Dims, uint Type, long Offset)>();
        for (long i = 0; i < tensorCount; i++)
        {
            string name = ReadString("a tensor name");
            uint rank = UInt32($"the dimension count of {name}");
            if (rank is 0 or > 4)
            {
                throw new InvalidDataException($"{path}: tensor {name} has {rank} dimensions; ggml tensors have 1 to 4.");
            }

            var dims = new long[rank];
            for (int d = 0; d < rank; d++)
            {
                dims[d] = Count($"dimension {d} of {name}");
            }

            uint type = UInt32($"the type of {name}");
            ulong offset = UInt64($"the offset of {name}");
            infos.Add((name, dims, type, (long)Math.Min(offset, long.MaxValue)));
        }

        long alignment = Integer("general.alignment") ?? DefaultAlignment;
        if (alignment <= 0 || (alignment & (alignment - 1)) != 0)
        {
            throw new InvalidDataException($"{path}: general.alignment is {alignment}; it must be a power of two.");
        }

        long dataStart = (_position + alignment - 1) / alignment * alignment;
        foreach (var (name, dims, type, offset) in infos)
        {
            if (offset % alignment != 0)
            {
                throw new InvalidDataException($"{path}: tensor {name} starts at data offset {offset}, not a multiple of the alignment {alignment}.");
            }

            if (!_tensors.TryAdd(name, new GgufTensor(name, dims, type, dataStart + offset, this)))
            {
                throw new InvalidDataException($"{path} lists tensor {name} twice.");
            }
        }
    }

    private object ReadValue(uint type, string key) => type switch
    {
        0 => (long)Read(1, key)[0],
        1 => (long)(sbyte)Read(1, key)[0],
        2 => (long)BinaryPrimitives.ReadUInt16LittleEndian(Read(2, key)),
        3 => (long)BinaryPrimitives.ReadInt16LittleEndian(Read(2, key)),
        4 => (long)UInt32(key),
        5 => (long)BinaryPrimitives.ReadInt32LittleEndian(Read(4, key)),
        6 => BinaryPrimitives.ReadSingleLittleEndian(Read(4, key)),
        7 => Read(1, key)[0] != 0,
        8 => ReadString(key),
        9 => ReadArray(key),
        10 => UInt64(key) is var u && u <= long.MaxValue ? (long)u : (object)u,
        11 => BinaryPrimitives.ReadInt64LittleEndian(Read(8, key)),
        12 => BinaryPrimitives.ReadDoubleLittleEndian(Read(8, key)),
        _ => throw new InvalidDataException($"{Mapped.Path}: metadata {key} has the value type {type}, which GGUF does not define."),
    };

    private object ReadArray(string key)
    {
        uint type = UInt32($"the element type of {key}");
        long count = Count($"the length of {key}");

        // Every element takes at least a byte: a count past the file's end is corruption, not a reason to allocate.
        if (count > Mapped.Length - _position)
        {
            throw new InvalidDataException($"{Mapped.Path} is truncated or corrupt: the array {key} claims {count} elements.");
        }

        switch (type)
        {
            case 8:
                var strings = new string[count];
                for (long i = 0; i < count; i++)
                {
                    strings[i] = ReadString(key);
                }

                return strings;
            case 6 or 12:
                var numbers = new double[count];
                for (long i = 0; i < count; i++)
                {
                    numbers[i] = ReadValue(type, key) switch { float single => single, var other => (double)other };
                }

                return numbers;
            case 7:
                var flags = new bool[count];
                for (long i = 0; i < count; i++)
                {
                    flags[i] = (bool)ReadValue(type, key);
                }

                return flags;
            case 9:
                var nested = new object[count];
                for (long i = 0; i < count; i++)
                {
                    nested[i] = ReadArray(key);
                }

                return nested;
            default:
                var integers = new long[count];
                for (long i = 0; i < count; i++)
                {
                    integers[i] = ReadValue(type, key) switch
                    {
                        long value => value,
                        var other => throw new InvalidDataException($"{Mapped.Path}: the array {key} holds {other}, past a 64-bit signed integer."),
                    };
                }

                return integers;
        }
    }

    private ReadOnlySpan<byte> Read(long length, string what)
    {
        var span = Mapped.Span(_position, length, what);
        _position += length;
        return span;
    }

    private uint UInt32(string what) => BinaryPrimitives.ReadUInt32LittleEndian(Read(4, what));

    private ulong UInt64(string what) => BinaryPrimitives.ReadUInt64LittleEndian(Read(8, what));

    private long Count(string what)
    {
        ulong value = UInt64(what);
        return value <= long.MaxValue ? (long)value : throw new InvalidDataException($"{Mapped.Path} is corrupt: {what} is {value}.");
    }

    private string ReadString(string what)
    {
        long length = Count($"the length of {what}");
        return Encoding.UTF8.GetString(Read(length, what));
    }
}
