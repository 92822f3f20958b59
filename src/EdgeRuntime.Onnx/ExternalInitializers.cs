using System.Globalization;

namespace EdgeRuntime.Onnx;

/// <summary>One initializer whose bytes are in an external file: where they are, and the tensor they make.</summary>
public sealed record ExternalTensor(string Name, int DataType, long[] Shape, string Location, long Offset, long Length);

/// <summary>Lists a model's external-data initializers by reading the graph's TensorProtos, without loading any data.</summary>
public static class ExternalInitializers
{
    /// <summary>A model's size on disk: the .onnx file and the external data files its initializers name (those that exist).</summary>
    public static long BytesOnDisk(string modelPath)
    {
        byte[] model = File.ReadAllBytes(modelPath);
        string folder = Path.GetDirectoryName(Path.GetFullPath(modelPath)) ?? ".";
        return model.LongLength + Read(model).Select(t => t.Location).Distinct(StringComparer.Ordinal)
            .Select(location => new FileInfo(Path.Combine(folder, location)))
            .Where(file => file.Exists)
            .Sum(file => file.Length);
    }

    public static IReadOnlyList<ExternalTensor> Read(ReadOnlySpan<byte> model)
    {
        var graph = ProtoReader.FirstBytes(model, OnnxFields.Model.Graph);
        var tensors = new List<ExternalTensor>();
        var reader = new ProtoReader(graph);
        while (reader.Next())
        {
            if (reader.Is(OnnxFields.Graph.Initializer, WireType.LengthDelimited))
            {
                if (ReadTensor(reader.ReadBytes()) is { } tensor)
                {
                    tensors.Add(tensor);
                }
            }
            else
            {
                reader.Skip();
            }
        }

        return tensors;
    }

    private static ExternalTensor? ReadTensor(ReadOnlySpan<byte> proto)
    {
        var shape = new List<long>();
        string name = "";
        int dataType = 0;
        long location = 0;
        string? file = null;
        long offset = 0;
        long length = -1;
        var reader = new ProtoReader(proto);
        while (reader.Next())
        {
            switch (reader.Field)
            {
                case OnnxFields.Tensor.Dims when reader.WireType == WireType.Varint:
                    shape.Add((long)reader.ReadVarint());
                    break;
                case OnnxFields.Tensor.DataType when reader.WireType == WireType.Varint:
                    dataType = (int)reader.ReadVarint();
                    break;
                case OnnxFields.Tensor.Name when reader.WireType == WireType.LengthDelimited:
                    name = reader.ReadString();
                    break;
                case OnnxFields.Tensor.DataLocation when reader.WireType == WireType.Varint:
                    location = (long)reader.ReadVarint();
                    break;
                case OnnxFields.Tensor.ExternalData when reader.WireType == WireType.LengthDelimited:
                    var entry = reader.ReadBytes();
                    string key = ProtoReader.FirstString(entry, OnnxFields.StringStringEntry.Key);
                    string value = ProtoReader.FirstString(entry, OnnxFields.StringStringEntry.Value);
                    switch (key)
                    {
                        case "location":
                            file = value;
                            break;
                        case "offset":
                            offset = long.Parse(value, CultureInfo.InvariantCulture);
                            break;
                        case "length":
                            length = long.Parse(value, CultureInfo.InvariantCulture);
                            break;
                    }

                    break;
                default:
                    reader.Skip();
                    break;
            }
        }

        return location == OnnxFields.DataLocationValue.External && file is not null
            ? new ExternalTensor(name, dataType, [.. shape], file, offset, length)
            : null;
    }
}
