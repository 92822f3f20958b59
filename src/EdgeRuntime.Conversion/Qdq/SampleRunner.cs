using EdgeRuntime.Inference;
using EdgeRuntime.Onnx;
using EdgeRuntime.Protocol;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EdgeRuntime.Conversion.Qdq;

/// <summary>
/// Runs a model on calibration samples in ONNX Runtime (CPU, our custom ops registered) and hands back float outputs,
/// including intermediate tensors made graph outputs with <see cref="WithOutputs"/>.
/// </summary>
internal sealed unsafe class SampleRunner : IDisposable
{
    private readonly SessionOptions _options;
    private readonly InferenceSession _session;

    public SampleRunner(byte[] model, int threads = 0)
    {
        _options = SessionFactory.CreateOptions(new InferenceOptions { IntraOpThreads = threads });
        _session = new InferenceSession(model, _options);
    }

    public static IReadOnlyList<ModelInput> InputsOf(byte[] model)
    {
        using var runner = new SampleRunner(model, 1);
        return runner.Inputs;
    }

    public IReadOnlyList<ModelInput> Inputs => [.. _session.InputMetadata.Select(p => new ModelInput(p.Key,
        ElementTypes.TryToDType(p.Value.ElementDataType, out var dtype) ? dtype : throw new InvalidDataException($"Input '{p.Key}' has element type {p.Value.ElementDataType}, which calibration cannot feed."),
        [.. p.Value.Dimensions.Select(d => (long)d)]))];

    /// <summary>The names of the model's float outputs.</summary>
    public IReadOnlyList<string> FloatOutputs => [.. _session.OutputMetadata.Where(p => p.Value.ElementDataType == TensorElementType.Float).Select(p => p.Key)];

    /// <summary>The outputs' values; their shapes too when <paramref name="shapes"/> is given (one slot per output).</summary>
    public float[][] Run(CalibrationSample sample, IReadOnlyList<string> outputs, long[][]? shapes = null)
    {
        var handles = new System.Buffers.MemoryHandle[sample.Inputs.Count];
        var values = new OrtValue[sample.Inputs.Count];
        try
        {
            for (int i = 0; i < values.Length; i++)
            {
                var tensor = sample.Inputs[i];
                handles[i] = tensor.Data.Pin();
                values[i] = OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, ElementTypes.ToElementType(tensor.DType), tensor.Shape, (IntPtr)handles[i].Pointer, tensor.Data.Length);
            }

            using var runOptions = new RunOptions();
            using var results = _session.Run(runOptions, [.. sample.Inputs.Select(t => t.Name)], values, [.. outputs]);
            for (int i = 0; shapes is not null && i < results.Count; i++)
            {
                shapes[i] = results[i].GetTensorTypeAndShape().Shape;
            }

            return [.. results.Select(r => r.GetTensorDataAsSpan<float>().ToArray())];
        }
        finally
        {
            foreach (var value in values)
            {
                value?.Dispose();
            }

            foreach (var handle in handles)
            {
                handle.Dispose();
            }
        }
    }

    /// <summary>The model with <paramref name="tensors"/> added as float graph outputs (those that are not outputs already).</summary>
    public static byte[] WithOutputs(byte[] model, IEnumerable<string> tensors, ISet<string> existing)
    {
        var graph = new ProtoWriter().Raw(ProtoReader.FirstBytes(model, OnnxFields.Model.Graph));
        foreach (string name in tensors.Where(t => !existing.Contains(t)))
        {
            var tensorType = new ProtoWriter().Varint(OnnxFields.TensorType.ElemType, OnnxDataType.Float);
            graph.Message(OnnxFields.Graph.Output, new ProtoWriter().String(OnnxFields.ValueInfo.Name, name).Message(OnnxFields.ValueInfo.Type, new ProtoWriter().Message(OnnxFields.TypeProto.TensorType, tensorType)));
        }

        return ModelGraph.Replace(model, graph.ToArray());
    }

    public void Dispose()
    {
        _session.Dispose();
        _options.Dispose();
    }
}

/// <summary>Swaps a ModelProto's graph, every other field copied byte for byte.</summary>
internal static class ModelGraph
{
    public static byte[] Replace(ReadOnlySpan<byte> model, ReadOnlySpan<byte> graph)
    {
        var output = new ProtoWriter();
        var reader = new ProtoReader(model);
        int start = 0;
        while (reader.Next())
        {
            reader.Skip();
            if (reader.Field == OnnxFields.Model.Graph)
            {
                output.Bytes(OnnxFields.Model.Graph, graph);
            }
            else
            {
                output.Raw(model[start..reader.Position]);
            }

            start = reader.Position;
        }

        return output.ToArray();
    }
}
