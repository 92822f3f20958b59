using System.Runtime.InteropServices;
using EdgeRuntime.Inference;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Pipelines;

/// <summary>A float32 tensor going into or coming out of a pipeline model.</summary>
public sealed record FloatTensor(float[] Data, long[] Shape);

/// <summary>A model call's outputs by name, with the time it waited for a worker and spent inside ONNX Runtime.</summary>
public sealed record ModelOutputs(Dictionary<string, FloatTensor> Tensors, double QueuedUs, double InferenceUs)
{
    public FloatTensor this[string name] => Tensors.TryGetValue(name, out var t)
        ? t
        : throw new EdgeRuntimeException(ErrorCodes.Internal, $"The model produced no output '{name}'; it has {string.Join(", ", Tensors.Keys)}.");
}

/// <summary>
/// Runs a model of the registry on float32 tensors through the shared <see cref="InferenceScheduler"/>, exactly as a
/// socket infer request would: same validation, same worker limit, same providers and statistics. Pipelines call
/// every model through this, so nothing bypasses the board's provider policy.
/// </summary>
public sealed class ModelInvoker(ModelRegistry registry, InferenceScheduler scheduler)
{
    public ModelRegistry Registry => registry;

    public async ValueTask<ModelOutputs> RunAsync(string model, IReadOnlyList<(string Name, FloatTensor Tensor)> inputs, CancellationToken cancellationToken)
    {
        var descriptors = new TensorDescriptor[inputs.Count];
        long offset = 0;
        for (int i = 0; i < inputs.Count; i++)
        {
            long bytes = (long)inputs[i].Tensor.Data.Length * sizeof(float);
            descriptors[i] = new TensorDescriptor(inputs[i].Name, "float32", inputs[i].Tensor.Shape, offset, bytes);
            offset = (offset + bytes + 7) & ~7L;
        }

        byte[] payload = new byte[offset];
        for (int i = 0; i < inputs.Count; i++)
        {
            MemoryMarshal.AsBytes(inputs[i].Tensor.Data.AsSpan()).CopyTo(payload.AsSpan((int)descriptors[i].Offset));
        }

        using var result = await scheduler.RunAsync(registry, new InferRequest(model, descriptors), payload, cancellationToken).ConfigureAwait(false);
        var outputs = new Dictionary<string, FloatTensor>(result.Outputs.Length, StringComparer.Ordinal);
        var span = result.Payload.Span;
        foreach (var output in result.Outputs)
        {
            if (output.Dtype != "float32")
            {
                throw new EdgeRuntimeException(ErrorCodes.Internal, $"Model '{model}' output '{output.Name}' is {output.Dtype}; pipeline models must produce float32.");
            }

            float[] data = MemoryMarshal.Cast<byte, float>(span.Slice((int)output.Offset, (int)output.Length)).ToArray();
            outputs[output.Name] = new FloatTensor(data, output.Shape);
        }

        return new ModelOutputs(outputs, result.QueuedUs, result.InferenceUs);
    }

    /// <summary>One float32 input, one named output: the common case.</summary>
    public async ValueTask<FloatTensor> RunAsync(string model, string input, FloatTensor tensor, string output, CancellationToken cancellationToken) =>
        (await RunAsync(model, [(input, tensor)], cancellationToken).ConfigureAwait(false))[output];
}
