using System.Globalization;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Inference;

/// <summary>
/// Checks a request's tensors against the model before ONNX Runtime sees them, so that the error names the input, what
/// was sent and what the model expects. Throws <see cref="EdgeRuntimeException"/> with <see cref="ErrorCodes.InvalidInput"/>.
/// </summary>
public static class InputValidator
{
    public static void Validate(LoadedModel model, IReadOnlyList<TensorDescriptor> inputs, long payloadLength, IReadOnlyList<string>? outputs)
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

            ValidateOne(model, port, input, payloadLength);
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
    }

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
            throw Invalid($"{where}: shape {sentShape} of {expected.Name()} needs more bytes than the {payloadLength}-byte payload holds.");
        }

        long expectedBytes = elements * expected.ElementSize();
        if (input.Length != expectedBytes)
        {
            throw Invalid($"{where}: {sentShape} {expected.Name()} is {expectedBytes.ToString(CultureInfo.InvariantCulture)} bytes, but the request says {input.Length.ToString(CultureInfo.InvariantCulture)}.");
        }

        if (input.Offset < 0 || input.Offset % TensorLayout.Alignment != 0)
        {
            throw Invalid($"{where}: offset {input.Offset} must be a non-negative multiple of {TensorLayout.Alignment}.");
        }

        // Written so that no sum can overflow: offsets and lengths come from the client.
        if (input.Offset > payloadLength || input.Length > payloadLength - input.Offset)
        {
            throw Invalid($"{where}: {input.Length} bytes at offset {input.Offset} lie outside the {payloadLength}-byte payload.");
        }
    }

    private static EdgeRuntimeException Invalid(string message) => new(ErrorCodes.InvalidInput, message);
}
