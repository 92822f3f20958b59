using System.IO.Hashing;
using System.IO.MemoryMappedFiles;
using EdgeRuntime.Generation.Folder;
using EdgeRuntime.Onnx;
using EdgeRuntime.Protocol;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EdgeRuntime.Generation.Decoding;

/// <summary>
/// The weights file mapped read-only into memory, and one ORT tensor per external initializer pointing into the map.
/// Handed to the session with AddInitializer, so ORT computes straight from the page cache: the weights are never
/// copied into managed memory nor held twice, and a model larger than 2 GB loads like any other.
/// </summary>
internal sealed unsafe class WeightMap : IDisposable
{
    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _base;
    private readonly List<(string Name, OrtValue Value)> _tensors = [];

    private WeightMap(MemoryMappedFile file, MemoryMappedViewAccessor view, byte* basePointer, long length)
    {
        _file = file;
        _view = view;
        _base = basePointer;
        Length = length;
    }

    public long Length { get; }

    public IReadOnlyList<(string Name, OrtValue Value)> Tensors => _tensors;

    /// <summary>Maps the folder's weights and checks every external tensor of the graph fits inside them.</summary>
    public static WeightMap Open(LanguageModelFolder folder, byte[] graph, bool verifyHash)
    {
        var file = MemoryMappedFile.CreateFromFile(folder.WeightsPath, FileMode.Open, mapName: null, capacity: 0, MemoryMappedFileAccess.Read);
        MemoryMappedViewAccessor? view = null;
        try
        {
            view = file.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* pointer = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
            pointer += view.PointerOffset;
            long length = new FileInfo(folder.WeightsPath).Length;
            var map = new WeightMap(file, view, pointer, length);
            try
            {
                if (verifyHash && folder.Config.WeightsXxHash3 is { } expected)
                {
                    map.VerifyHash(expected, folder.WeightsPath);
                }

                map.CreateTensors(graph, folder);
                return map;
            }
            catch
            {
                map.Dispose();
                throw;
            }
        }
        catch
        {
            if (view is null)
            {
                file.Dispose();
            }

            throw;
        }
    }

    /// <summary>Registers every mapped tensor as a session initializer (ORT keeps a reference, not a copy).</summary>
    public void AddTo(SessionOptions options)
    {
        foreach (var (name, value) in _tensors)
        {
            options.AddInitializer(name, value);
        }
    }

    public void Dispose()
    {
        foreach (var (_, value) in _tensors)
        {
            value.Dispose();
        }

        _tensors.Clear();
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _file.Dispose();
    }

    private void VerifyHash(string expected, string path)
    {
        var hash = new XxHash3();
        const int Chunk = 1 << 24;
        for (long offset = 0; offset < Length; offset += Chunk)
        {
            hash.Append(new ReadOnlySpan<byte>(_base + offset, (int)Math.Min(Chunk, Length - offset)));
        }

        string actual = Convert.ToHexStringLower(hash.GetCurrentHash());
        if (!string.Equals(actual, expected, StringComparison.OrdinalIgnoreCase))
        {
            throw new EdgeRuntimeException(ErrorCodes.ModelInvalid, $"{path} is corrupt: its XxHash3 is {actual}; config.json says {expected}. Copy or convert the model again.");
        }
    }

    private void CreateTensors(byte[] graph, LanguageModelFolder folder)
    {
        foreach (var tensor in ExternalInitializers.Read(graph))
        {
            if (!string.Equals(tensor.Location, folder.Config.Weights, StringComparison.Ordinal))
            {
                throw new EdgeRuntimeException(ErrorCodes.ModelInvalid, $"{folder.GraphPath}: initializer {tensor.Name} lives in {tensor.Location}; a model folder keeps all weights in {folder.Config.Weights}.");
            }

            // ORT's managed API has no int4 element type to wrap mapped bytes in, so ORT reads a QDQ folder's int4 codes from
            // the file itself (half a byte a weight, its own copy); every other tensor is served from the map.
            if (tensor.DataType == OnnxDataType.Int4)
            {
                continue;
            }

            var (type, size) = ElementType(tensor.DataType, tensor.Name, folder.GraphPath);
            long elements = tensor.Shape.Aggregate(1L, (a, b) => a * b);
            if (tensor.Offset < 0 || tensor.Length != elements * size || tensor.Offset + tensor.Length > Length)
            {
                throw new EdgeRuntimeException(ErrorCodes.ModelInvalid, $"{folder.WeightsPath} does not hold initializer {tensor.Name}: it needs bytes {tensor.Offset}..{tensor.Offset + (elements * size)} ([{string.Join(", ", tensor.Shape)}]), the file has {Length}.");
            }

            var value = OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, type, tensor.Shape, (IntPtr)(_base + tensor.Offset), tensor.Length);
            _tensors.Add((tensor.Name, value));
        }
    }

    private static (TensorElementType Type, int Size) ElementType(int onnxType, string name, string graphPath) => onnxType switch
    {
        OnnxDataType.Float => (TensorElementType.Float, 4),
        OnnxDataType.UInt8 => (TensorElementType.UInt8, 1),
        OnnxDataType.Int8 => (TensorElementType.Int8, 1),
        OnnxDataType.Int32 => (TensorElementType.Int32, 4),
        OnnxDataType.Int64 => (TensorElementType.Int64, 8),
        OnnxDataType.Float16 => (TensorElementType.Float16, 2),
        _ => throw new EdgeRuntimeException(ErrorCodes.ModelInvalid, $"{graphPath}: initializer {name} has ONNX data type {onnxType}, which a model folder does not use."),
    };
}
