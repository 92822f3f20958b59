using System.Globalization;

namespace EdgeRuntime.Onnx;

/// <summary>
/// Moves a model's large inline initializers (raw_data, main graph) into one external data file, as ONNX's
/// external-data convention describes (location, offset, length). Each tensor starts on a page boundary, so ONNX
/// Runtime can map it from the file instead of reading it into the heap: the weights are then file-backed pages that
/// the kernel may drop under memory pressure and re-read, rather than anonymous memory. Every other byte of the model
/// is copied unchanged.
/// </summary>
public static class ExternalDataWriter
{
    public const int PageAlignment = 4096;

    /// <summary>The model with initializers of at least <paramref name="threshold"/> bytes written to <paramref name="data"/> (named <paramref name="location"/> beside the model).</summary>
    public static byte[] Externalize(ReadOnlySpan<byte> model, string location, Stream data, long threshold = 1024)
    {
        if (location.Length == 0 || location.IndexOfAny(['/', '\\']) >= 0)
        {
            throw new ArgumentException($"The external data location '{location}' must be a file name beside the model.");
        }

        var output = new ProtoWriter();
        var reader = new ProtoReader(model);
        int start = 0;
        while (reader.Next())
        {
            if (reader.Is(OnnxFields.Model.Graph, WireType.LengthDelimited))
            {
                output.Bytes(OnnxFields.Model.Graph, Graph(reader.ReadBytes(), location, data, threshold));
                start = reader.Position;
                continue;
            }

            reader.Skip();
            output.Raw(model[start..reader.Position]);
            start = reader.Position;
        }

        return output.ToArray();
    }

    private static byte[] Graph(ReadOnlySpan<byte> graph, string location, Stream data, long threshold)
    {
        var output = new ProtoWriter();
        var reader = new ProtoReader(graph);
        int start = 0;
        while (reader.Next())
        {
            if (reader.Is(OnnxFields.Graph.Initializer, WireType.LengthDelimited))
            {
                var tensor = reader.ReadBytes();
                if (Externalized(tensor, location, data, threshold) is { } moved)
                {
                    output.Message(OnnxFields.Graph.Initializer, moved);
                    start = reader.Position;
                    continue;
                }
            }
            else
            {
                reader.Skip();
            }

            output.Raw(graph[start..reader.Position]);
            start = reader.Position;
        }

        return output.ToArray();
    }

    // The tensor with its raw_data replaced by a reference into the data file, or null when it stays inline.
    private static ProtoWriter? Externalized(ReadOnlySpan<byte> tensor, string location, Stream data, long threshold)
    {
        var reader = new ProtoReader(tensor);
        ReadOnlySpan<byte> raw = default;
        bool hasRaw = false;
        while (reader.Next())
        {
            if (reader.Is(OnnxFields.Tensor.RawData, WireType.LengthDelimited))
            {
                raw = reader.ReadBytes();
                hasRaw = true;
            }
            else if (reader.Is(OnnxFields.Tensor.DataLocation, WireType.Varint))
            {
                if (reader.ReadVarint() == OnnxFields.DataLocationValue.External)
                {
                    return null;
                }
            }
            else
            {
                reader.Skip();
            }
        }

        if (!hasRaw || raw.Length < threshold)
        {
            return null;
        }

        long offset = (data.Position + PageAlignment - 1) / PageAlignment * PageAlignment;
        data.Write(new byte[offset - data.Position]);
        data.Write(raw);

        var moved = new ProtoWriter();
        reader = new ProtoReader(tensor);
        int start = 0;
        while (reader.Next())
        {
            reader.Skip();
            if (!reader.Is(OnnxFields.Tensor.RawData, WireType.LengthDelimited))
            {
                moved.Raw(tensor[start..reader.Position]);
            }

            start = reader.Position;
        }

        moved.Message(OnnxFields.Tensor.ExternalData, Entry("location", location));
        moved.Message(OnnxFields.Tensor.ExternalData, Entry("offset", offset.ToString(CultureInfo.InvariantCulture)));
        moved.Message(OnnxFields.Tensor.ExternalData, Entry("length", raw.Length.ToString(CultureInfo.InvariantCulture)));
        return moved.Varint(OnnxFields.Tensor.DataLocation, OnnxFields.DataLocationValue.External);

        static ProtoWriter Entry(string key, string value) => new ProtoWriter().String(OnnxFields.StringStringEntry.Key, key).String(OnnxFields.StringStringEntry.Value, value);
    }
}
