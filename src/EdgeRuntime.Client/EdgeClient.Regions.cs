using System.Diagnostics;
using EdgeRuntime.Formats;
using EdgeRuntime.Protocol;
using EdgeRuntime.Transport;

namespace EdgeRuntime.Client;

// Shared-memory tensors (docs/protocol.md, "Shared-memory tensors"): large inputs and outputs live in a memfd both
// processes map, and only their descriptors cross the socket.
public sealed partial class EdgeClient
{
    /// <summary>
    /// Creates <paramref name="size"/> bytes of shared memory (a memfd sealed against shrinking and growing), maps it
    /// here and registers it with the daemon under <paramref name="name"/> for this connection.
    /// </summary>
    /// <exception cref="EdgeRuntimeException">
    /// shared_memory_disabled (the daemon's configuration does not allow it), region_invalid, or the kernel refused.
    /// </exception>
    public async Task<SharedMemoryRegion> RegisterRegionAsync(string name, int size, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (!SharedMemory.IsSupported)
        {
            throw new EdgeRuntimeException(ErrorCodes.SharedMemoryDisabled, "Shared-memory regions need Linux (memfd and SCM_RIGHTS).");
        }

        int fd;
        MappedMemory mapping;
        try
        {
            fd = SharedMemory.CreateSealed($"edgeruntime-{name}", size);
        }
        catch (IOException e)
        {
            throw new EdgeRuntimeException(ErrorCodes.RegionInvalid, $"Cannot create shared memory for region '{name}': {e.Message}", e);
        }

        try
        {
            mapping = SharedMemory.Map(fd, size);
            try
            {
                byte[] json = ProtocolJson.Serialize(new NameRequest(name), ProtocolJsonContext.Default.NameRequest);
                await SendAsync(MessageType.RegionRegister, json, 0, [], [], cancellationToken, descriptor: fd).ConfigureAwait(false);
            }
            catch
            {
                ((IDisposable)mapping).Dispose();
                throw;
            }
        }
        catch (IOException e)
        {
            throw new EdgeRuntimeException(ErrorCodes.RegionInvalid, $"Cannot map shared memory for region '{name}': {e.Message}", e);
        }
        finally
        {
            DescriptorPassing.Close(fd); // both mappings keep the memory
        }

        return new SharedMemoryRegion(name, mapping);
    }

    /// <summary>Releases the daemon's side of <paramref name="region"/>; requests running with it finish first.</summary>
    public Task<RegionUnregisterResponse> UnregisterRegionAsync(SharedMemoryRegion region, CancellationToken cancellationToken = default) =>
        RequestJsonAsync(MessageType.RegionUnregister, new NameRequest(region.Name), ProtocolJsonContext.Default.NameRequest, ProtocolJsonContext.Default.RegionUnregisterResponse, cancellationToken);

    /// <summary>
    /// Runs a model with its tensors in <paramref name="region"/>: the inputs are copied into it from offset 0, the
    /// outputs are written by the daemon into the rest and copied out, so the result stays valid after the region is
    /// reused. Calls on one region take turns (each uses the whole region); use one region per concurrent caller.
    /// When the data is produced in the region to begin with, <see cref="InferInRegionAsync"/> saves the copies.
    /// </summary>
    public async Task<InferResult> InferAsync(string model, IReadOnlyList<Tensor> inputs, SharedMemoryRegion region, IReadOnlyList<string>? outputs = null, CancellationToken cancellationToken = default)
    {
        await region.LayoutGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await InferLaidOutAsync(model, inputs, region, outputs, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            region.LayoutGate.Release();
        }
    }

    private Task<InferResult> InferLaidOutAsync(string model, IReadOnlyList<Tensor> inputs, SharedMemoryRegion region, IReadOnlyList<string>? outputs, CancellationToken cancellationToken)
    {
        var descriptors = new TensorDescriptor[inputs.Count];
        long offset = 0;
        var target = region.Memory.Span;
        for (int i = 0; i < inputs.Count; i++)
        {
            var input = inputs[i];
            offset = TensorLayout.AlignUp(offset);
            if (input.Data.Length > region.Size - offset)
            {
                throw new EdgeRuntimeException(ErrorCodes.RegionOutOfBounds, $"The inputs do not fit in region '{region.Name}' ({region.Size} bytes).");
            }

            input.Data.Span.CopyTo(target[(int)offset..]);
            descriptors[i] = new TensorDescriptor(input.Name, input.DType.Name(), input.Shape, offset, input.Data.Length) { Region = region.Name };
            offset += input.Data.Length;
        }

        long outputStart = Math.Min(TensorLayout.AlignUp(offset), region.Size);
        return InferInRegionAsync(model, region, descriptors, new RegionRange(region.Name, outputStart, region.Size - outputStart), outputs, copyOutputs: true, cancellationToken);
    }

    /// <summary>
    /// Runs a model on tensors already in <paramref name="region"/> (each descriptor with <c>Region</c> set), writing
    /// the outputs into <paramref name="outputRange"/> (null: in the response payload). With
    /// <paramref name="copyOutputs"/> false the output tensors are views of the region: valid until that range is
    /// written again.
    /// </summary>
    public async Task<InferResult> InferInRegionAsync(string model, SharedMemoryRegion region, IReadOnlyList<TensorDescriptor> inputs, RegionRange? outputRange, IReadOnlyList<string>? outputs = null, bool copyOutputs = false, CancellationToken cancellationToken = default)
    {
        var request = new InferRequest(model, [.. inputs], outputs is null ? null : [.. outputs]) { OutputRegion = outputRange };
        byte[] json = ProtocolJson.Serialize(request, ProtocolJsonContext.Default.InferRequest);
        long start = Stopwatch.GetTimestamp();
        var frame = await SendAsync(MessageType.Infer, json, 0, [], [], cancellationToken).ConfigureAwait(false);
        var roundTrip = Stopwatch.GetElapsedTime(start);
        var response = ProtocolJson.Deserialize(frame.Json, ProtocolJsonContext.Default.InferResponse);
        return new InferResult(ReadTensors(response.Outputs, frame.Payload, region, copyOutputs), response.Timing, roundTrip);
    }

    private static Tensor ReadRegionTensor(TensorDescriptor d, SharedMemoryRegion? region, bool copy)
    {
        if (region is null || d.Region != region.Name || !TensorDTypes.TryParse(d.Dtype, out var dtype) || d.Offset < 0 || d.Length < 0
            || d.Offset > region.Size || d.Length > region.Size - d.Offset
            || TensorDTypes.ElementCount(d.Shape) is not { } count || d.Length % dtype.ElementSize() != 0 || d.Length / dtype.ElementSize() != count)
        {
            throw new EdgeRuntimeException(ErrorCodes.BadFrame, $"The daemon described output '{d.Name}' inconsistently.");
        }

        var bytes = region.Memory.Slice((int)d.Offset, (int)d.Length);
        return new Tensor(d.Name, dtype, d.Shape, copy ? bytes.ToArray() : bytes);
    }
}
