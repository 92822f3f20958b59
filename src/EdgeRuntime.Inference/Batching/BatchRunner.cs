using System.Buffers;
using System.Diagnostics;
using EdgeRuntime.Protocol;
using Microsoft.ML.OnnxRuntime;

namespace EdgeRuntime.Inference.Batching;

/// <summary>
/// Runs several validated requests as one ONNX Runtime run: each batched input is joined along its batch axis in a
/// pooled buffer, shared inputs are read from the first request, and every output is cut back into one result per
/// request. A small model's run costs little more for eight rows than for one, so the daemon's CPU per request falls.
/// </summary>
internal static class BatchRunner
{
    public static unsafe InferenceResult[] Run(LoadedModel model, BatchPlan plan, BatchMember[] members)
    {
        var leader = members[0];
        var inputs = leader.Request.Inputs;
        long total = 0;
        foreach (var member in members)
        {
            total += member.Rows;
        }

        string[] outputNames = InferenceRunner.OutputNames(model, leader.Request.Outputs);
        var names = new string[inputs.Length];
        var values = new OrtValue[inputs.Length];
        var joined = new byte[]?[inputs.Length];
        var pins = new MemoryHandle[inputs.Length];
        using var leaderPin = leader.Payload.Pin();
        try
        {
            for (int i = 0; i < inputs.Length; i++)
            {
                var descriptor = inputs[i];
                TensorDTypes.TryParse(descriptor.Dtype, out var dtype);
                names[i] = descriptor.Name;
                long[] shape = [.. descriptor.Shape ?? []];
                int axis = plan.InputAxis(descriptor.Name);
                byte* data;
                long length;
                if (axis < 0)
                {
                    data = (byte*)leaderPin.Pointer + descriptor.Offset;
                    length = descriptor.Length;
                }
                else
                {
                    long outer = Product(shape, axis);
                    long rowBytes = descriptor.Length / (outer * leader.Rows);
                    shape[axis] = total;
                    length = outer * total * rowBytes;
                    byte[] buffer = joined[i] = ArrayPool<byte>.Shared.Rent((int)Math.Max(length, 1));
                    Join(members, descriptor.Name, outer, rowBytes, total, buffer);
                    pins[i] = buffer.AsMemory().Pin();
                    data = (byte*)pins[i].Pointer;
                }

                values[i] = OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, ElementTypes.ToElementType(dtype), shape, (IntPtr)data, length);
            }

            long start = Stopwatch.GetTimestamp();
            using var outputs = InferenceRunner.RunSession(model, names, values, outputNames);
            double inferenceUs = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
            return Split(model, plan, outputNames, outputs, members, total, inferenceUs);
        }
        finally
        {
            for (int i = 0; i < inputs.Length; i++)
            {
                values[i]?.Dispose();
                pins[i].Dispose();
                if (joined[i] is { } buffer)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }
        }
    }

    /// <summary>
    /// Lays the members' tensors for one input side by side along the batch axis: for each index before the axis
    /// (<paramref name="outer"/> of them), member after member, each its own rows.
    /// </summary>
    private static void Join(BatchMember[] members, string name, long outer, long rowBytes, long total, byte[] target)
    {
        long row = 0;
        foreach (var member in members)
        {
            var source = member.Bytes(BatchMember.Find(member.Request.Inputs, name)!);
            int chunk = (int)(member.Rows * rowBytes);
            for (long o = 0; o < outer; o++)
            {
                source.Slice((int)(o * chunk), chunk).CopyTo(target.AsSpan((int)(((o * total) + row) * rowBytes), chunk));
            }

            row += member.Rows;
        }
    }

    /// <summary>Cuts every output along its batch axis into one pooled result per member, in the members' order.</summary>
    private static InferenceResult[] Split(LoadedModel model, BatchPlan plan, string[] names, IReadOnlyList<OrtValue> outputs, BatchMember[] members, long total, double inferenceUs)
    {
        // Checks each output's type the way a single request's response does, and gives the batch's full shapes.
        var (whole, _) = InferenceRunner.Describe(model, names, outputs, 0, null);
        var axes = new int[whole.Length];
        var outers = new long[whole.Length];
        var rowBytes = new long[whole.Length];
        for (int j = 0; j < whole.Length; j++)
        {
            axes[j] = plan.OutputAxis(names[j]);
            long[] shape = whole[j].Shape;
            if (axes[j] >= shape.Length || shape[axes[j]] != total)
            {
                string got = axes[j] < shape.Length ? shape[axes[j]].ToString(System.Globalization.CultureInfo.InvariantCulture) : "no such axis";
                throw new EdgeRuntimeException(ErrorCodes.InferenceFailed, $"Output '{names[j]}' of model '{model.Name}' came out [{string.Join(",", shape)}] for a batch of {total} rows ({got} along axis {axes[j]}): the model does not batch the way it was loaded to. Load it without maxBatch, or fix batchAxes.");
            }

            outers[j] = Product(shape, axes[j]);
            rowBytes[j] = outers[j] * total == 0 ? 0 : whole[j].Length / (outers[j] * total);
        }

        var results = new InferenceResult[members.Length];
        long row = 0;
        try
        {
            for (int m = 0; m < members.Length; m++)
            {
                long rows = members[m].Rows;
                var descriptors = new TensorDescriptor[whole.Length];
                long end = 0;
                for (int j = 0; j < whole.Length; j++)
                {
                    long[] shape = [.. whole[j].Shape];
                    shape[axes[j]] = rows;
                    end = TensorLayout.AlignUp(end);
                    descriptors[j] = whole[j] with { Shape = shape, Offset = end, Length = outers[j] * rows * rowBytes[j] };
                    end += descriptors[j].Length;
                }

                byte[] buffer = ArrayPool<byte>.Shared.Rent((int)Math.Max(end, 1));
                results[m] = new InferenceResult(descriptors, buffer, (int)end, inferenceUs) { BatchSize = members.Length };
                for (int j = 0; j < whole.Length; j++)
                {
                    var source = outputs[j].GetTensorMutableRawData();
                    int chunk = (int)(rows * rowBytes[j]);
                    for (long o = 0; o < outers[j]; o++)
                    {
                        source.Slice((int)(((o * total) + row) * rowBytes[j]), chunk).CopyTo(buffer.AsSpan((int)(descriptors[j].Offset + (o * chunk)), chunk));
                    }
                }

                row += rows;
            }

            return results;
        }
        catch
        {
            foreach (var result in results)
            {
                result?.Dispose();
            }

            throw;
        }
    }

    /// <summary>The product of the dimensions before <paramref name="axis"/>.</summary>
    private static long Product(long[] shape, int axis)
    {
        long product = 1;
        for (int d = 0; d < axis; d++)
        {
            product *= shape[d];
        }

        return product;
    }
}
