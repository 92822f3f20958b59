using System.Buffers.Binary;
using System.Text;

namespace EdgeRuntime.TestModels.Language.Checkpoints;

/// <summary>
/// Writes a GGUF version 3 file as gguf-py's GGUFWriter does: "GGUF", version, tensor and key/value counts, the
/// key/values (string key, uint32 type, value), the tensor infos (name, dimension count, dimensions with ne[0] first,
/// ggml type, offset), zero padding to the alignment, then each tensor's bytes padded to the alignment.
/// </summary>
public sealed class GgufWriter
{
    private readonly MemoryStream _metadata = new();
    private readonly List<(string Name, long[] Dims, uint Type, byte[] Data)> _tensors = [];
    private int _keys;

    public int Alignment { get; init; } = 32;

    public GgufWriter String(string key, string value) => Key(key, 8, w => WriteString(w, value));

    public GgufWriter UInt32(string key, uint value) => Key(key, 4, w => w.Write(value));

    public GgufWriter Float32(string key, float value) => Key(key, 6, w => w.Write(value));

    public GgufWriter Bool(string key, bool value) => Key(key, 7, w => w.Write(value));

    public GgufWriter Strings(string key, IReadOnlyList<string> values) => Key(key, 9, w =>
    {
        w.Write(8u);
        w.Write((ulong)values.Count);
        foreach (string value in values)
        {
            WriteString(w, value);
        }
    });

    public GgufWriter Int32s(string key, IReadOnlyList<int> values) => Key(key, 9, w =>
    {
        w.Write(5u);
        w.Write((ulong)values.Count);
        foreach (int value in values)
        {
            w.Write(value);
        }
    });

    public GgufWriter Float32s(string key, IReadOnlyList<float> values) => Key(key, 9, w =>
    {
        w.Write(6u);
        w.Write((ulong)values.Count);
        foreach (float value in values)
        {
            w.Write(value);
        }
    });

    /// <param name="dims">ggml's order: ne[0] (a row's length) first.</param>
    public GgufWriter Tensor(string name, long[] dims, uint type, byte[] data)
    {
        _tensors.Add((name, dims, type, data));
        return this;
    }

    public void Write(string path)
    {
        using var file = File.Create(path);
        using var writer = new BinaryWriter(file, Encoding.UTF8);
        writer.Write(Encoding.ASCII.GetBytes("GGUF"));
        writer.Write(3u);
        writer.Write((ulong)_tensors.Count);
        writer.Write((ulong)_keys);
        writer.Write(_metadata.ToArray());
        long offset = 0;
        foreach (var (name, dims, type, data) in _tensors)
        {
            WriteString(writer, name);
            writer.Write((uint)dims.Length);
            foreach (long d in dims)
            {
                writer.Write((ulong)d);
            }

            writer.Write(type);
            writer.Write((ulong)offset);
            offset = Align(offset + data.Length);
        }

        writer.Flush();
        Pad(writer, file.Position);
        foreach (var (_, _, _, data) in _tensors)
        {
            writer.Write(data);
            Pad(writer, data.Length);
        }
    }

    private long Align(long position) => (position + Alignment - 1) / Alignment * Alignment;

    private void Pad(BinaryWriter writer, long position) => writer.Write(new byte[Align(position) - position]);

    private GgufWriter Key(string key, uint type, Action<BinaryWriter> value)
    {
        using (var writer = new BinaryWriter(_metadata, Encoding.UTF8, leaveOpen: true))
        {
            WriteString(writer, key);
            writer.Write(type);
            value(writer);
        }

        _keys++;
        return this;
    }

    private static void WriteString(BinaryWriter writer, string value)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(value);
        writer.Write((ulong)bytes.Length);
        writer.Write(bytes);
    }

    /// <summary>Little-endian float32 bytes.</summary>
    public static byte[] F32(ReadOnlySpan<float> values)
    {
        var bytes = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        }

        return bytes;
    }
}
