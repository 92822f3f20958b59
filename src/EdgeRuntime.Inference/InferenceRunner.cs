using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using EdgeRuntime.Protocol;
using Microsoft.ML.OnnxRuntime;

namespace EdgeRuntime.Inference;

/// <summary>Runs one validated request on a leased model. Inputs are handed to ONNX Runtime in place, without copies.</summary>
public static class InferenceRunner
{
    /// <summary>
    /// Default run options, made once: ORT only reads them during a run, so concurrent runs share them, and a request
    /// does not pay for creating and finalising a native object.
    /// </summary>
    private static readonly RunOptions SharedRunOptions = new();

    /// <summary>
    /// Runs <paramref name="model"/> on tensors that sit in <paramref name="payload"/>. The caller holds a lease and has
    /// validated the request with <see cref="InputValidator"/>.
    /// </summary>
    /// <param name="regions">Where inputs that name a region live (validated); null when none does.</param>
    /// <param name="outputRegion">Write the outputs there instead of a pooled buffer; null: the response payload.</param>
    public static unsafe InferenceResult Run(LoadedModel model, IReadOnlyList<TensorDescriptor> inputs, ReadOnlyMemory<byte> payload, IReadOnlyList<string>? requestedOutputs, ITensorRegions? regions = null, RegionRange? outputRegion = null)
    {
        string[] outputNames = OutputNames(model, requestedOutputs);
        var inputNames = new string[inputs.Count];
        var inputValues = new OrtValue[inputs.Count];

        // Pin the request's payload for the duration of Run: each input OrtValue points into it (zero copy). A
        // shared region is pinned by nature (a mapping) and held by the caller's lease.
        using var pin = payload.Pin();
        byte* basePointer = (byte*)pin.Pointer;
        List<byte[]>? privateCopies = null; // kept reachable (pinned arrays) until the run is over
        try
        {
            for (int i = 0; i < inputs.Count; i++)
            {
                var descriptor = inputs[i];
                TensorDTypes.TryParse(descriptor.Dtype, out var dtype);
                inputNames[i] = descriptor.Name;
                byte* source = descriptor.Region is { } region ? RegionPointer(regions!, region, descriptor, dtype, ref privateCopies) : basePointer;
                inputValues[i] = OrtValue.CreateTensorValueWithData(
                    OrtMemoryInfo.DefaultInstance,
                    ElementTypes.ToElementType(dtype),
                    descriptor.Shape,
                    (IntPtr)(source + descriptor.Offset),
                    descriptor.Length);
            }

            long start = Stopwatch.GetTimestamp();
            using var outputs = RunSession(model, inputNames, inputValues, outputNames);
            double inferenceUs = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
            return outputRegion is null
                ? Pack(model, outputNames, outputs, inferenceUs)
                : PackInto(model, outputNames, outputs, inferenceUs, regions!.Get(outputRegion.Region), outputRegion);
        }
        finally
        {
            foreach (var value in inputValues)
            {
                value?.Dispose();
            }

            GC.KeepAlive(privateCopies);
        }
    }

    /// <summary>
    /// Where a region input is read from. The client can write the region while the model runs. For data that is
    /// harmless to the daemon (the answer is the client's own problem), but a value a kernel reads twice, an index or
    /// shape checked and then used, or a bool mask counted and then applied (Compress), could send the kernel out of
    /// bounds if it changed in between. So only plain numeric data (floats and 8-bit pixels or quantized values) is
    /// read in place; every other type is copied out first.
    /// </summary>
    private static unsafe byte* RegionPointer(ITensorRegions regions, string name, TensorDescriptor descriptor, TensorDType dtype, ref List<byte[]>? privateCopies)
    {
        var memory = regions.Get(name);
        if (dtype is not (TensorDType.Float32 or TensorDType.Float16 or TensorDType.Float64 or TensorDType.UInt8 or TensorDType.Int8))
        {
            byte[] copy = GC.AllocateUninitializedArray<byte>((int)descriptor.Length, pinned: true);
            memory.Span.Slice((int)descriptor.Offset, copy.Length).CopyTo(copy);
            (privateCopies ??= []).Add(copy);
            return (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(copy)) - descriptor.Offset;
        }

        using var handle = memory.Pin(); // a mapping never moves: the pointer outlives the handle
        return (byte*)handle.Pointer;
    }

    /// <summary>The outputs a request asked for, or all of the model's when it named none.</summary>
    internal static string[] OutputNames(LoadedModel model, IReadOnlyList<string>? requested) =>
        requested is { Count: > 0 } ? [.. requested] : model.OutputNames;

    internal static IDisposableReadOnlyCollection<OrtValue> RunSession(LoadedModel model, string[] inputNames, OrtValue[] inputValues, string[] outputNames)
    {
        try
        {
            model.BeginRun();
            bool succeeded = false;
            try
            {
                var outputs = model.Session.Run(SharedRunOptions, inputNames, inputValues, outputNames);
                succeeded = true;
                return outputs;
            }
            finally
            {
                model.EndRun(succeeded);
            }
        }
        catch (OnnxRuntimeException e)
        {
            throw new EdgeRuntimeException(ErrorCodes.InferenceFailed, $"ONNX Runtime failed to run model '{model.Name}': {Providers.CudaErrors.WithExplanation(e.Message)}", e);
        }
    }

    /// <summary>Copies the outputs into one pooled buffer, each at an aligned offset, described for the response header.</summary>
    private static InferenceResult Pack(LoadedModel model, string[] names, IReadOnlyList<OrtValue> outputs, double inferenceUs)
    {
        var (descriptors, total) = Describe(model, names, outputs, 0, null);
        if (total > int.MaxValue)
        {
            throw new EdgeRuntimeException(ErrorCodes.InferenceFailed, $"The outputs of model '{model.Name}' total {total} bytes, more than one frame can carry.");
        }

        byte[] buffer = ArrayPool<byte>.Shared.Rent((int)Math.Max(total, 1));
        for (int i = 0; i < outputs.Count; i++)
        {
            var source = outputs[i].GetTensorMutableRawData();
            source.CopyTo(buffer.AsSpan((int)descriptors[i].Offset, (int)descriptors[i].Length));
        }

        return new InferenceResult(descriptors, buffer, (int)total, inferenceUs);
    }

    /// <summary>
    /// Copies the outputs into <paramref name="range"/> of a shared region, each at an aligned offset from the range's
    /// start; the result's payload is empty and its descriptors name the region.
    /// </summary>
    private static InferenceResult PackInto(LoadedModel model, string[] names, IReadOnlyList<OrtValue> outputs, double inferenceUs, Memory<byte> region, RegionRange range)
    {
        var (descriptors, end) = Describe(model, names, outputs, range.Offset, range.Region);
        if (end - range.Offset > range.Length)
        {
            throw new EdgeRuntimeException(ErrorCodes.RegionOutOfBounds, $"The outputs of model '{model.Name}' take {end - range.Offset} bytes; outputRegion holds {range.Length}. The model ran; nothing was written.");
        }

        var target = region.Span;
        for (int i = 0; i < outputs.Count; i++)
        {
            outputs[i].GetTensorMutableRawData().CopyTo(target.Slice((int)descriptors[i].Offset, (int)descriptors[i].Length));
        }

        return new InferenceResult(descriptors, [], 0, inferenceUs, pooled: false);
    }

    /// <summary>Describes each output at an aligned offset from <paramref name="start"/>; returns where the last ends.</summary>
    internal static (TensorDescriptor[] Descriptors, long End) Describe(LoadedModel model, string[] names, IReadOnlyList<OrtValue> outputs, long start, string? region)
    {
        var descriptors = new TensorDescriptor[outputs.Count];
        long total = start;
        for (int i = 0; i < outputs.Count; i++)
        {
            var value = outputs[i];
            if (!value.IsTensor)
            {
                throw new EdgeRuntimeException(ErrorCodes.InferenceFailed, $"Output '{names[i]}' of model '{model.Name}' is a {value.OnnxType}, which protocol v1 cannot carry.");
            }

            var info = value.GetTensorTypeAndShape();
            if (info.IsString || !ElementTypes.TryToDType(info.ElementDataType, out var dtype))
            {
                throw new EdgeRuntimeException(ErrorCodes.InferenceFailed, $"Output '{names[i]}' of model '{model.Name}' has type {ElementTypes.Describe(info.ElementDataType)}, which protocol v1 cannot carry.");
            }

            long length = value.GetTensorSizeInBytes();
            total = TensorLayout.AlignUp(total);
            descriptors[i] = new TensorDescriptor(names[i], dtype.Name(), info.Shape, total, length) { Region = region };
            total += length;
        }

        return (descriptors, total);
    }
}
