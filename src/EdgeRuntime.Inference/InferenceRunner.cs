using System.Buffers;
using System.Diagnostics;
using EdgeRuntime.Protocol;
using Microsoft.ML.OnnxRuntime;

namespace EdgeRuntime.Inference;

/// <summary>Runs one validated request on a leased model. Inputs are handed to ONNX Runtime in place, without copies.</summary>
public static class InferenceRunner
{
    /// <summary>
    /// Runs <paramref name="model"/> on tensors that sit in <paramref name="payload"/>. The caller holds a lease and has
    /// validated the request with <see cref="InputValidator"/>.
    /// </summary>
    public static unsafe InferenceResult Run(LoadedModel model, IReadOnlyList<TensorDescriptor> inputs, ReadOnlyMemory<byte> payload, IReadOnlyList<string>? requestedOutputs)
    {
        string[] outputNames = requestedOutputs is { Count: > 0 } ? [.. requestedOutputs] : model.OutputNames;
        var inputNames = new string[inputs.Count];
        var inputValues = new OrtValue[inputs.Count];

        // Pin the request's payload for the duration of Run: each input OrtValue points into it (zero copy).
        using var pin = payload.Pin();
        byte* basePointer = (byte*)pin.Pointer;
        try
        {
            for (int i = 0; i < inputs.Count; i++)
            {
                var descriptor = inputs[i];
                TensorDTypes.TryParse(descriptor.Dtype, out var dtype);
                inputNames[i] = descriptor.Name;
                inputValues[i] = OrtValue.CreateTensorValueWithData(
                    OrtMemoryInfo.DefaultInstance,
                    ElementTypes.ToElementType(dtype),
                    descriptor.Shape,
                    (IntPtr)(basePointer + descriptor.Offset),
                    descriptor.Length);
            }

            long start = Stopwatch.GetTimestamp();
            using var runOptions = new RunOptions();
            using var outputs = RunSession(model, runOptions, inputNames, inputValues, outputNames);
            double inferenceUs = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
            var result = Pack(model, outputNames, outputs, inferenceUs);
            model.OnRunSucceeded();
            return result;
        }
        finally
        {
            foreach (var value in inputValues)
            {
                value?.Dispose();
            }
        }
    }

    private static IDisposableReadOnlyCollection<OrtValue> RunSession(LoadedModel model, RunOptions runOptions, string[] inputNames, OrtValue[] inputValues, string[] outputNames)
    {
        try
        {
            return model.Session.Run(runOptions, inputNames, inputValues, outputNames);
        }
        catch (OnnxRuntimeException e)
        {
            throw new EdgeRuntimeException(ErrorCodes.InferenceFailed, $"ONNX Runtime failed to run model '{model.Name}': {Providers.CudaErrors.WithExplanation(e.Message)}", e);
        }
    }

    /// <summary>Copies the outputs into one pooled buffer, each at an aligned offset, described for the response header.</summary>
    private static InferenceResult Pack(LoadedModel model, string[] names, IReadOnlyList<OrtValue> outputs, double inferenceUs)
    {
        var descriptors = new TensorDescriptor[outputs.Count];
        long total = 0;
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
            descriptors[i] = new TensorDescriptor(names[i], dtype.Name(), info.Shape, total, length);
            total += length;
        }

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
}
