using System.Runtime.InteropServices;
using EdgeRuntime.Inference;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Triggers;

/// <summary>
/// Runs a model on a block of sensor samples through the same registry and scheduler as socket requests, so the
/// board's provider policy, input validation, worker limits and statistics all apply to triggered runs too.
/// <para>
/// The samples go to one input. With FrameSamples the block is cut into frames of that many samples and run frame by
/// frame, feeding Carry outputs back as inputs (recurrent state, zeros at first); the outputs that are not carried are
/// stacked over frames on a new leading axis, the carried ones are returned as they stand after the last frame. A
/// frame (or the whole block) is fitted to the input's size: the newest values are kept and a short block is padded
/// with zeros in front, so the input always ends at the newest sample. Frames are aligned to the newest sample too:
/// when the block is not a whole number of frames, the first frame holds the oldest samples, padded in front.
/// </para>
/// </summary>
public sealed class WindowModelRunner(ModelRegistry registry, InferenceScheduler scheduler)
{
    /// <summary>Recurrent state carried between calls of a streaming evaluation (a model trigger).</summary>
    public sealed class StreamState
    {
        internal Dictionary<string, (TensorDescriptor Descriptor, byte[] Bytes)> Carried { get; } = new(StringComparer.Ordinal);
    }

    public async Task<RunOutput> RunAsync(ModelRunSpec spec, ReadOnlyMemory<float> samples, int channels, StreamState? state, CancellationToken cancellationToken)
    {
        if (!registry.TryGet(spec.Model, out var model))
        {
            throw new EdgeRuntimeException(ErrorCodes.UnknownModel, $"Model '{spec.Model}' is not loaded (add it to \"models\" or load it over the socket).");
        }

        var input = ResolveInput(spec, model);
        int frameValues = spec.FrameSamples is int f && f > 0 ? f * channels : samples.Length;
        // Whole frames end at the newest sample; a partial frame of the oldest samples goes first, padded in front.
        int frames = Math.Max(1, (samples.Length + frameValues - 1) / Math.Max(1, frameValues));
        int partial = samples.Length - ((frames - 1) * frameValues);
        state ??= new StreamState();
        var stacked = new Dictionary<string, List<byte[]>>(StringComparer.Ordinal);
        var lastDescriptors = new Dictionary<string, TensorDescriptor>(StringComparer.Ordinal);
        double queuedUs = 0, inferenceUs = 0;
        for (int frame = 0; frame < frames; frame++)
        {
            int start = frame == 0 ? 0 : partial + ((frame - 1) * frameValues);
            var slice = samples.Slice(start, frame == 0 ? partial : frameValues);
            var (request, payload) = BuildRequest(spec, model, input, slice.Span, spec.FrameSamples is null ? slice.Length : frameValues, state);
            using var result = await scheduler.RunAsync(registry, request, payload, cancellationToken).ConfigureAwait(false);
            queuedUs += result.QueuedUs;
            inferenceUs += result.InferenceUs;
            var bytes = result.Payload.Span;
            foreach (var output in result.Outputs)
            {
                byte[] data = bytes.Slice((int)output.Offset, (int)output.Length).ToArray();
                lastDescriptors[output.Name] = output;
                if (spec.Carry.TryGetValue(output.Name, out string? carriedInput))
                {
                    state.Carried[carriedInput] = (output, data);
                    stacked[output.Name] = [data];
                }
                else
                {
                    if (!stacked.TryGetValue(output.Name, out var list))
                    {
                        stacked[output.Name] = list = [];
                    }

                    list.Add(data);
                }
            }
        }

        return Pack(stacked, lastDescriptors, spec, frames, queuedUs, inferenceUs);
    }

    private static ModelPort ResolveInput(ModelRunSpec spec, LoadedModel model)
    {
        if (spec.Input is not null)
        {
            return model.Inputs.Find(spec.Input) ?? throw new EdgeRuntimeException(ErrorCodes.InvalidInput, $"Model '{model.Name}' has no input '{spec.Input}'; its inputs are {model.Inputs.Names}.");
        }

        return model.Inputs.Ports.FirstOrDefault(p => !spec.Carry.ContainsValue(p.Name) && !spec.Constants.ContainsKey(p.Name))
            ?? throw new EdgeRuntimeException(ErrorCodes.InvalidInput, $"Model '{model.Name}': every input is carried or constant; name the one that takes samples in \"input\".");
    }

    private static (InferRequest Request, byte[] Payload) BuildRequest(ModelRunSpec spec, LoadedModel model, ModelPort input, ReadOnlySpan<float> samples, int values, StreamState state)
    {
        var tensors = new List<(TensorDescriptor Descriptor, byte[] Bytes)>();
        foreach (var port in model.Inputs.Ports)
        {
            if (port.Name == input.Name)
            {
                tensors.Add(SamplesTensor(model, port, samples, values));
            }
            else if (spec.Constants.TryGetValue(port.Name, out double value))
            {
                tensors.Add(Filled(model, port, value));
            }
            else if (spec.Carry.ContainsValue(port.Name))
            {
                tensors.Add(state.Carried.TryGetValue(port.Name, out var carried)
                    ? (carried.Descriptor with { Name = port.Name }, carried.Bytes)
                    : Filled(model, port, 0));
            }
            else
            {
                throw new EdgeRuntimeException(ErrorCodes.InvalidInput, $"Model '{model.Name}' input '{port.Name}' gets no value: name it in \"input\", \"carry\" or \"constants\".");
            }
        }

        long offset = 0;
        var descriptors = new TensorDescriptor[tensors.Count];
        for (int i = 0; i < tensors.Count; i++)
        {
            descriptors[i] = tensors[i].Descriptor with { Offset = offset, Length = tensors[i].Bytes.Length };
            offset = Align8(offset + tensors[i].Bytes.Length);
        }

        byte[] payload = new byte[offset];
        for (int i = 0; i < tensors.Count; i++)
        {
            tensors[i].Bytes.CopyTo(payload, descriptors[i].Offset);
        }

        return (new InferRequest(model.Name, descriptors), payload);
    }

    /// <summary>The input tensor: <paramref name="values"/> long on a dynamic axis (a frame, or the whole block), the samples at its end.</summary>
    private static (TensorDescriptor, byte[]) SamplesTensor(LoadedModel model, ModelPort port, ReadOnlySpan<float> samples, int values)
    {
        if (port.DType != TensorDType.Float32)
        {
            throw new EdgeRuntimeException(ErrorCodes.InvalidInput, $"Model '{model.Name}' input '{port.Name}' is {port.TypeName}; sensor samples are float32.");
        }

        // The samples fill the last dynamic dimension (time); any earlier dynamic one is a batch of 1.
        long[] shape = (long[])port.Shape.Clone();
        long fixedCount = 1;
        int dynamic = Array.FindLastIndex(shape, d => d < 0);
        for (int i = 0; i < shape.Length; i++)
        {
            if (shape[i] < 0 && i != dynamic)
            {
                shape[i] = 1;
            }

            if (shape[i] >= 0)
            {
                fixedCount *= shape[i];
            }
        }

        for (int i = 0; i < shape.Length; i++)
        {
            if (shape[i] < 0 && i == dynamic)
            {
                shape[i] = Math.Max(1, (values + fixedCount - 1) / Math.Max(1, fixedCount));
            }
        }

        long count = TensorDTypes.ElementCount(shape) ?? 0;
        var data = new float[count];
        int take = (int)Math.Min(count, samples.Length);
        // Keep the newest values; a short block is padded with zeros in front.
        samples[^take..].CopyTo(data.AsSpan((int)(count - take)));
        return (new TensorDescriptor(port.Name, "float32", shape, 0, count * 4), MemoryMarshal.AsBytes(data.AsSpan()).ToArray());
    }

    private static (TensorDescriptor, byte[]) Filled(LoadedModel model, ModelPort port, double value)
    {
        long[] shape = [.. port.Shape.Select(d => d < 0 ? 1 : d)];
        long count = TensorDTypes.ElementCount(shape) ?? 0;
        byte[] bytes;
        string dtype;
        switch (port.DType)
        {
            case TensorDType.Float32:
                bytes = MemoryMarshal.AsBytes(Enumerable.Repeat((float)value, (int)count).ToArray().AsSpan()).ToArray();
                dtype = "float32";
                break;
            case TensorDType.Int64:
                bytes = MemoryMarshal.AsBytes(Enumerable.Repeat((long)value, (int)count).ToArray().AsSpan()).ToArray();
                dtype = "int64";
                break;
            case TensorDType.Int32:
                bytes = MemoryMarshal.AsBytes(Enumerable.Repeat((int)value, (int)count).ToArray().AsSpan()).ToArray();
                dtype = "int32";
                break;
            default:
                throw new EdgeRuntimeException(ErrorCodes.InvalidInput, $"Model '{model.Name}' input '{port.Name}' is {port.TypeName}; constants and carried state can be float32, int64 or int32.");
        }

        return (new TensorDescriptor(port.Name, dtype, shape, 0, bytes.Length), bytes);
    }

    private static RunOutput Pack(Dictionary<string, List<byte[]>> stacked, Dictionary<string, TensorDescriptor> last, ModelRunSpec spec, int frames, double queuedUs, double inferenceUs)
    {
        var descriptors = new List<TensorDescriptor>();
        var summary = new List<SensorValue>();
        long offset = 0;
        foreach (var (name, parts) in stacked)
        {
            var d = last[name];
            bool stack = spec.FrameSamples is not null && !spec.Carry.ContainsKey(name);
            long[] shape = stack ? [frames, .. d.Shape] : d.Shape;
            long length = parts.Sum(p => (long)p.Length);
            descriptors.Add(new TensorDescriptor(name, d.Dtype, shape, offset, length));
            offset = Align8(offset + length);
        }

        byte[] payload = new byte[offset];
        int index = 0;
        foreach (var (name, parts) in stacked)
        {
            long at = descriptors[index++].Offset;
            foreach (byte[] part in parts)
            {
                part.CopyTo(payload, at);
                at += part.Length;
            }

            if (descriptors[index - 1].Dtype == "float32" && !spec.Carry.ContainsKey(name))
            {
                var floats = MemoryMarshal.Cast<byte, float>(payload.AsSpan((int)descriptors[index - 1].Offset, (int)descriptors[index - 1].Length));
                // The largest finite element: a NaN from a model must not make the result unstorable as JSON.
                float max = float.NegativeInfinity;
                foreach (float v in floats)
                {
                    if (float.IsFinite(v))
                    {
                        max = Math.Max(max, v);
                    }
                }

                if (float.IsFinite(max))
                {
                    summary.Add(new SensorValue(name, max));
                }
            }
        }

        return new RunOutput([.. descriptors], payload, queuedUs, inferenceUs, frames, [.. summary]);
    }

    private static long Align8(long n) => (n + 7) & ~7L;
}

/// <summary>A triggered run's outputs (payload laid out as in an infer response), times summed over frames, and per-output maxima.</summary>
public sealed record RunOutput(TensorDescriptor[] Outputs, byte[] Payload, double QueuedUs, double InferenceUs, int Frames, SensorValue[] Summary);
