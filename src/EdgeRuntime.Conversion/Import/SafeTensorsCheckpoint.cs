using System.Text.Json;

namespace EdgeRuntime.Conversion.Import;

/// <summary>
/// The weights of a Hugging Face checkpoint folder: <c>model.safetensors</c>, or the shards that
/// <c>model.safetensors.index.json</c>'s weight_map names (each shard opened once).
/// </summary>
internal sealed class SafeTensorsCheckpoint : IDisposable
{
    public const string SingleFile = "model.safetensors";
    public const string IndexFile = "model.safetensors.index.json";

    private readonly List<SafeTensorsFile> _files = [];
    private readonly Dictionary<string, SafeTensor> _tensors = new(StringComparer.Ordinal);

    private SafeTensorsCheckpoint(string folder) => Folder = folder;

    public string Folder { get; }

    public int FileCount => _files.Count;

    public long Bytes => _files.Sum(f => f.Mapped.Length);

    public IEnumerable<string> Names => _tensors.Keys;

    public static bool HasWeights(string folder) =>
        File.Exists(Path.Combine(folder, IndexFile)) || File.Exists(Path.Combine(folder, SingleFile));

    public static SafeTensorsCheckpoint Open(string folder)
    {
        var checkpoint = new SafeTensorsCheckpoint(folder);
        try
        {
            string index = Path.Combine(folder, IndexFile);
            if (File.Exists(index))
            {
                checkpoint.OpenShards(index);
            }
            else
            {
                string single = Path.Combine(folder, SingleFile);
                if (!File.Exists(single))
                {
                    throw new FileNotFoundException($"{folder} has neither {SingleFile} nor {IndexFile}.", single);
                }

                checkpoint.Add(SafeTensorsFile.Open(single), only: null);
            }

            return checkpoint;
        }
        catch
        {
            checkpoint.Dispose();
            throw;
        }
    }

    public bool Contains(string name) => _tensors.ContainsKey(name);

    /// <summary>The tensor named <paramref name="name"/>; a missing one is an error that names it.</summary>
    public SafeTensor Get(string name) =>
        _tensors.TryGetValue(name, out var tensor)
            ? tensor
            : throw new InvalidDataException($"The checkpoint in {Folder} has no tensor {name}.");

    public SafeTensor? Find(string name) => _tensors.GetValueOrDefault(name);

    public void Dispose()
    {
        foreach (var file in _files)
        {
            file.Dispose();
        }
    }

    private void OpenShards(string index)
    {
        var weightMap = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(index));
            if (!document.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"{index} has no weight_map object.");
            }

            foreach (var entry in map.EnumerateObject())
            {
                string shard = entry.Value.ValueKind == JsonValueKind.String ? entry.Value.GetString()! : throw new InvalidDataException($"{index}: weight_map gives {entry.Name} no file name.");
                if (shard.Contains('/', StringComparison.Ordinal) || shard.Contains('\\', StringComparison.Ordinal) || shard.StartsWith('.'))
                {
                    throw new InvalidDataException($"{index}: weight_map names the shard \"{shard}\", which is not a file beside it.");
                }

                if (!weightMap.TryGetValue(shard, out var names))
                {
                    weightMap[shard] = names = [];
                }

                names.Add(entry.Name);
            }
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{index} is not valid JSON ({e.Message}).", e);
        }

        foreach (var (shard, names) in weightMap)
        {
            string path = Path.Combine(Folder, shard);
            if (!File.Exists(path))
            {
                throw new FileNotFoundException($"{index} names the shard {shard}, which is not in {Folder}.", path);
            }

            Add(SafeTensorsFile.Open(path), names);
        }
    }

    /// <summary>Adds a file's tensors (those the index assigns to it, when there is an index).</summary>
    private void Add(SafeTensorsFile file, List<string>? only)
    {
        _files.Add(file);
        foreach (string name in only ?? [.. file.Tensors.Keys])
        {
            _tensors[name] = file.Tensors.TryGetValue(name, out var tensor)
                ? tensor
                : throw new InvalidDataException($"{IndexFile} puts {name} in {Path.GetFileName(file.Mapped.Path)}, which has no such tensor.");
        }
    }
}
