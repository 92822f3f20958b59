using System.Runtime.InteropServices;
using EdgeRuntime.Inference;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Pipelines;

/// <summary>A float32 tensor going into or coming out of a pipeline model.</summary>
public sealed record FloatTensor(float[] Data, long[] Shape);

/// <summary>A model call's outputs by name.</summary>
public sealed record ModelOutputs(Dictionary<string, FloatTensor> Tensors)
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
            offset = TensorLayout.AlignUp(offset + bytes);
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

        return new ModelOutputs(outputs);
    }

    /// <summary>
    /// Loads a pipeline's model under its registry name, or reuses the one already there when it came from the same
    /// file (a pipeline loaded again, or two loads of it racing). A model of that name from another file is refused:
    /// it would answer wrongly.
    /// </summary>
    /// <param name="manifestKind">"MMEdge" or "CBNet", for the message.</param>
    public async Task<LoadedModel> LoadOrReuseAsync(string name, string path, string[]? providers, string manifestKind, CancellationToken cancellationToken)
    {
        if (!registry.TryGet(name, out var model))
        {
            try
            {
                return await registry.LoadAsync(name, path, providers, cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            catch (EdgeRuntimeException e) when (e.Code == ErrorCodes.ModelExists && registry.TryGet(name, out model))
            {
                // Another load of the same pipeline got there first; fall through to the same-file check.
            }
        }

        return model.Path == path
            ? model
            : throw new EdgeRuntimeException(ErrorCodes.ModelExists, $"Model '{name}' is already loaded from '{model.Path}', but the {manifestKind} manifest names '{path}'; unload it first or pick another pipeline name.");
    }

    /// <summary>One float32 input, one named output: the common case.</summary>
    public async ValueTask<FloatTensor> RunAsync(string model, string input, FloatTensor tensor, string output, CancellationToken cancellationToken) =>
        (await RunAsync(model, [(input, tensor)], cancellationToken).ConfigureAwait(false))[output];
}
