using EdgeRuntime.Protocol;

namespace EdgeRuntime.Inference.Batching;

/// <summary>
/// What a load asks for: run up to <paramref name="MaxBatch"/> waiting requests for the model as one ONNX Runtime run.
/// <paramref name="Axes"/> names each port's batch axis; without it every input and output is joined along a dynamic
/// first dimension. An input left out of <paramref name="Axes"/> is shared: requests join one batch only when they
/// send it byte for byte the same (Silero VAD's sample rate, say). A size out of range is refused here, before a load
/// opens the model.
/// </summary>
public sealed record BatchingOptions
{
    /// <summary>Above this, one run's latency grows past what a waiting request should pay.</summary>
    public const int Limit = 64;

    /// <exception cref="EdgeRuntimeException">bad_request when <paramref name="maxBatch"/> is not 1 (off) to <see cref="Limit"/>.</exception>
    public BatchingOptions(int maxBatch, IReadOnlyDictionary<string, int>? axes = null)
    {
        if (maxBatch is < 1 or > Limit)
        {
            throw new EdgeRuntimeException(ErrorCodes.BadRequest, $"maxBatch is {maxBatch}; it must be 1 (no batching) to {Limit}.");
        }

        MaxBatch = maxBatch;
        Axes = axes;
    }

    public int MaxBatch { get; }

    public IReadOnlyDictionary<string, int>? Axes { get; }

    /// <summary>The options a load request or a config entry gives; null when it asks for no batching.</summary>
    public static BatchingOptions? From(int? maxBatch, IReadOnlyDictionary<string, int>? axes)
    {
        if (maxBatch is null)
        {
            return axes is null ? null : throw new EdgeRuntimeException(ErrorCodes.BadRequest, "batchAxes is given without maxBatch; say how many requests one run may take.");
        }

        return new BatchingOptions(maxBatch.Value, axes);
    }
}

/// <summary>
/// A loaded model's batch axes, checked against its signature once at load. Batching is opt-in per model, as in
/// Triton: only the model's author knows that its rows do not mix (no statistic over the batch, no cross-row state).
/// </summary>
public sealed class BatchPlan
{
    private readonly Dictionary<string, int> _inputAxes;
    private readonly Dictionary<string, int> _outputAxes;

    private BatchPlan(int maxBatch, Dictionary<string, int> inputAxes, Dictionary<string, int> outputAxes)
    {
        MaxBatch = maxBatch;
        _inputAxes = inputAxes;
        _outputAxes = outputAxes;
    }

    public int MaxBatch { get; }

    /// <summary>The axis the input is joined along, or -1 when it is shared (equal in every request of a batch).</summary>
    public int InputAxis(string name) => _inputAxes.GetValueOrDefault(name, -1);

    /// <summary>The axis the output is split along.</summary>
    public int OutputAxis(string name) => _outputAxes[name];

    /// <summary>The plan for a model, or null when <paramref name="options"/> asks for no batching.</summary>
    /// <exception cref="EdgeRuntimeException">bad_request naming the port when the model cannot be batched as asked.</exception>
    public static BatchPlan? Create(string model, ModelSignature inputs, ModelSignature outputs, BatchingOptions? options)
    {
        if (options is null || options.MaxBatch == 1)
        {
            return null;
        }

        var inputAxes = new Dictionary<string, int>(StringComparer.Ordinal);
        var outputAxes = new Dictionary<string, int>(StringComparer.Ordinal);
        if (options.Axes is { } axes)
        {
            foreach (var (name, axis) in axes)
            {
                var port = inputs.Find(name) ?? outputs.Find(name)
                    ?? throw Refused($"batchAxes names '{name}', which model '{model}' does not have. Its inputs are: {inputs.Names}; its outputs: {outputs.Names}.");
                RequireDynamic(model, port, axis, inputs.Find(name) is not null ? "Input" : "Output");
                (inputs.Find(name) is not null ? inputAxes : outputAxes)[name] = axis;
            }

            foreach (var port in outputs.Ports.Where(p => !outputAxes.ContainsKey(p.Name)))
            {
                throw Refused($"Output '{port.Name}' {port.DescribeShape()} of model '{model}' has no entry in batchAxes: every output is split along its batch axis.");
            }
        }
        else
        {
            foreach (var port in inputs.Ports)
            {
                RequireDynamic(model, port, 0, "Input");
                inputAxes[port.Name] = 0;
            }

            foreach (var port in outputs.Ports)
            {
                RequireDynamic(model, port, 0, "Output");
                outputAxes[port.Name] = 0;
            }
        }

        if (inputAxes.Count == 0)
        {
            throw Refused($"batchAxes gives no input of model '{model}' a batch axis: there would be nothing to join.");
        }

        return new BatchPlan(options.MaxBatch, inputAxes, outputAxes);
    }

    private static void RequireDynamic(string model, ModelPort port, int axis, string kind)
    {
        if (axis < 0 || axis >= port.Shape.Length || port.Shape[axis] >= 0)
        {
            string hint = axis == 0 ? " Name each port's batch axis in batchAxes, or load the model without maxBatch." : string.Empty;
            throw Refused($"{kind} '{port.Name}' {port.DescribeShape()} of model '{model}' has no dynamic dimension {axis} to batch along.{hint}");
        }
    }

    private static EdgeRuntimeException Refused(string message) => new(ErrorCodes.BadRequest, message);
}
