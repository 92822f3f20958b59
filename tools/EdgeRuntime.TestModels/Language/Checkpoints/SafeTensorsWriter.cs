using System.Text.Json;

namespace EdgeRuntime.TestModels.Language.Checkpoints;

/// <summary>
/// Writes a safetensors file as huggingface/safetensors does: an 8-byte little-endian header length, the JSON header
/// (with "__metadata__", padded with spaces to a multiple of 8 bytes), then the tensors' bytes in the order added.
/// </summary>
public sealed class SafeTensorsWriter
{
    private readonly List<(string Name, string DType, long[] Shape, byte[] Data)> _tensors = [];

    public IEnumerable<string> Names => _tensors.Select(t => t.Name);

    public SafeTensorsWriter Add(string name, string dtype, long[] shape, byte[] data)
    {
        _tensors.Add((name, dtype, shape, data));
        return this;
    }

    public void Write(string path)
    {
        using var headerStream = new MemoryStream();
        using (var json = new Utf8JsonWriter(headerStream))
        {
            json.WriteStartObject();
            json.WriteStartObject("__metadata__");
            json.WriteString("format", "pt");
            json.WriteEndObject();
            long offset = 0;
            foreach (var (name, dtype, shape, data) in _tensors)
            {
                json.WriteStartObject(name);
                json.WriteString("dtype", dtype);
                json.WriteStartArray("shape");
                foreach (long d in shape)
                {
                    json.WriteNumberValue(d);
                }

                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + data.Length);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += data.Length;
            }

            json.WriteEndObject();
        }

        var header = new List<byte>(headerStream.ToArray());
        while (header.Count % 8 != 0)
        {
            header.Add((byte)' ');
        }

        using var file = File.Create(path);
        Span<byte> length = stackalloc byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Count);
        file.Write(length);
        file.Write(header.ToArray());
        foreach (var tensor in _tensors)
        {
            file.Write(tensor.Data);
        }
    }

    /// <summary>Writes the tensors into <paramref name="shards"/> files and model.safetensors.index.json beside them.</summary>
    public void WriteSharded(string folder, int shards)
    {
        var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        int perShard = (_tensors.Count + shards - 1) / shards;
        for (int s = 0; s < shards; s++)
        {
            string file = $"model-{s + 1:00000}-of-{shards:00000}.safetensors";
            var shard = new SafeTensorsWriter();
            foreach (var tensor in _tensors.Skip(s * perShard).Take(perShard))
            {
                shard.Add(tensor.Name, tensor.DType, tensor.Shape, tensor.Data);
                weightMap[tensor.Name] = file;
            }

            shard.Write(Path.Combine(folder, file));
        }

        using var stream = File.Create(Path.Combine(folder, "model.safetensors.index.json"));
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteStartObject("metadata");
        json.WriteNumber("total_size", _tensors.Sum(t => (long)t.Data.Length));
        json.WriteEndObject();
        json.WriteStartObject("weight_map");
        foreach (var (name, file) in weightMap)
        {
            json.WriteString(name, file);
        }

        json.WriteEndObject();
        json.WriteEndObject();
    }

    /// <summary>Little-endian float32 bytes.</summary>
    public static byte[] F32(ReadOnlySpan<float> values) => System.Runtime.InteropServices.MemoryMarshal.AsBytes(values).ToArray();
}
