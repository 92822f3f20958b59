using System.Globalization;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Inference;

/// <summary>
/// Checks a request's tensors against the model before ONNX Runtime sees them, so that the error names the input, what
/// was sent and what the model expects. Throws <see cref="EdgeRuntimeException"/> with <see cref="ErrorCodes.InvalidInput"/>.
/// </summary>
public static class InputValidator
{
    /// <param name="regions">The shared regions inputs may name; null when the request may name none.</param>
    public static void Validate(LoadedModel model, IReadOnlyList<TensorDescriptor> inputs, long payloadLength, IReadOnlyList<string>? outputs, ITensorRegions? regions = null, RegionRange? outputRegion = null)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var input in inputs)
        {
            if (input is null || string.IsNullOrEmpty(input.Name))
            {
                throw Invalid("Every input needs a name.");
            }

            if (!seen.Add(input.Name))
            {
                throw Invalid($"Input '{input.Name}' is given twice.");
            }

            var port = model.Inputs.Find(input.Name)
                ?? throw Invalid($"Model '{model.Name}' has no input named '{input.Name}'. Its inputs are: {model.Inputs.Names}.");

            ValidateOne(model, port, input, input.Region is null ? payloadLength : RegionLength(regions, input.Region));
        }

        foreach (var port in model.Inputs.Ports)
        {
            if (!seen.Contains(port.Name))
            {
                throw Invalid($"Input '{port.Name}' ({port.TypeName} {port.DescribeShape()}) of model '{model.Name}' is missing.");
            }
        }

        if (outputs is not null)
        {
            foreach (string name in outputs)
            {
                if (model.Outputs.Find(name) is null)
                {
                    throw Invalid($"Model '{model.Name}' has no output named '{name}'. Its outputs are: {model.Outputs.Names}.");
                }
            }
        }

        if (outputRegion is not null)
        {
            long size = RegionLength(regions, outputRegion.Region);
            if (outputRegion.Offset < 0 || outputRegion.Offset % TensorLayout.Alignment != 0 || outputRegion.Length < 0
                || outputRegion.Offset > size || outputRegion.Length > size - outputRegion.Offset)
            {
                throw new EdgeRuntimeException(ErrorCodes.RegionOutOfBounds, $"outputRegion: {outputRegion.Length} bytes at offset {outputRegion.Offset} must lie inside region '{outputRegion.Region}' ({size} bytes), at a non-negative offset that is a multiple of {TensorLayout.Alignment}.");
            }
        }
    }

    private static long RegionLength(ITensorRegions? regions, string name) =>
        regions?.Get(name).Length ?? throw new EdgeRuntimeException(ErrorCodes.UnknownRegion, $"No shared-memory region named '{name}' is registered on this connection.");

    /// <param name="payloadLength">The bytes of what holds the tensor: the payload, or the region it names.</param>
    private static void ValidateOne(LoadedModel model, ModelPort port, TensorDescriptor input, long payloadLength)
    {
        string where = $"Input '{input.Name}' of model '{model.Name}'";
        if (port.DType is not { } expected)
        {
            throw Invalid($"{where} has type {port.TypeName}, which protocol v1 cannot carry.");
        }

        if (!TensorDTypes.TryParse(input.Dtype, out var sent))
        {
            throw Invalid($"{where}: unknown dtype '{input.Dtype}'.");
        }

        if (sent != expected)
        {
            throw Invalid($"{where} must be {expected.Name()}, got {sent.Name()}.");
        }

        long[] shape = input.Shape ?? [];
        string sentShape = "[" + string.Join(",", shape) + "]";
        if (shape.Length != port.Shape.Length)
        {
            throw Invalid($"{where} must have rank {port.Shape.Length} {port.DescribeShape()}, got rank {shape.Length} {sentShape}.");
        }

        for (int axis = 0; axis < shape.Length; axis++)
        {
            if (shape[axis] < 0)
            {
                throw Invalid($"{where}: dimension {axis} is negative in {sentShape}.");
            }

            if (port.Shape[axis] >= 0 && port.Shape[axis] != shape[axis])
            {
                throw Invalid($"{where} must have shape {port.DescribeShape()}, got {sentShape} (dimension {axis} differs).");
            }
        }

        long elements = TensorDTypes.ElementCount(shape) ?? throw Invalid($"{where}: shape {sentShape} is too large.");
        if (elements > payloadLength / expected.ElementSize())
        {
            throw input.Region is null
                ? Invalid($"{where}: shape {sentShape} of {expected.Name()} needs more bytes than the {payloadLength}-byte payload holds.")
                : new EdgeRuntimeException(ErrorCodes.RegionOutOfBounds, $"{where}: shape {sentShape} of {expected.Name()} needs more bytes than region '{input.Region}' ({payloadLength} bytes) holds.");
        }

        long expectedBytes = elements * expected.ElementSize();
        if (input.Length != expectedBytes)
        {
            throw Invalid($"{where}: {sentShape} {expected.Name()} is {expectedBytes.ToString(CultureInfo.InvariantCulture)} bytes, but the request says {input.Length.ToString(CultureInfo.InvariantCulture)}.");
        }

        if (input.Offset < 0 || input.Offset % TensorLayout.Alignment != 0)
        {
            string message = $"{where}: offset {input.Offset} must be a non-negative multiple of {TensorLayout.Alignment}.";
            throw input.Region is null ? Invalid(message) : new EdgeRuntimeException(ErrorCodes.RegionOutOfBounds, message);
        }

        // Written so that no sum can overflow: offsets and lengths come from the client.
        if (input.Offset > payloadLength || input.Length > payloadLength - input.Offset)
        {
            throw input.Region is null
                ? Invalid($"{where}: {input.Length} bytes at offset {input.Offset} lie outside the {payloadLength}-byte payload.")
                : new EdgeRuntimeException(ErrorCodes.RegionOutOfBounds, $"{where}: {input.Length} bytes at offset {input.Offset} lie outside region '{input.Region}' ({payloadLength} bytes).");
        }
    }

    private static EdgeRuntimeException Invalid(string message) => new(ErrorCodes.InvalidInput, message);
}
