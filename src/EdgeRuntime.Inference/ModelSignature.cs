using EdgeRuntime.Protocol;

namespace EdgeRuntime.Inference;

/// <summary>One model input or output. <see cref="DType"/> is null for types the protocol cannot carry (strings, maps).</summary>
public sealed record ModelPort(string Name, TensorDType? DType, string TypeName, long[] Shape, string[] SymbolicShape)
{
    public TensorSpec ToSpec() => new(Name, TypeName, Shape, SymbolicShape);

    /// <summary>The shape as a person reads it: fixed dims as numbers, dynamic ones by their symbolic name or '?'.</summary>
    public string DescribeShape()
    {
        var parts = new string[Shape.Length];
        for (int i = 0; i < Shape.Length; i++)
        {
            string symbol = i < SymbolicShape.Length ? SymbolicShape[i] : string.Empty;
            parts[i] = Shape[i] >= 0 ? Shape[i].ToString(System.Globalization.CultureInfo.InvariantCulture) : (symbol.Length > 0 ? symbol : "?");
        }

        return "[" + string.Join(",", parts) + "]";
    }
}

public sealed class ModelSignature(ModelPort[] ports)
{
    public IReadOnlyList<ModelPort> Ports { get; } = ports;

    public ModelPort? Find(string name)
    {
        foreach (var port in Ports)
        {
            if (port.Name == name)
            {
                return port;
            }
        }

        return null;
    }

    public string Names => string.Join(", ", Ports.Select(p => p.Name));

    public TensorSpec[] ToSpecs() => [.. Ports.Select(p => p.ToSpec())];
}
