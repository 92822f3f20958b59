using EdgeRuntime.Onnx;

namespace EdgeRuntime.Conversion.Weights;

/// <summary>
/// A constant a layer reads, found wherever the exporter put it: its values as float, its shape, the element type the
/// layer sees (float, or float16/bfloat16 when the layer computes in half precision), the initializer it came from (if
/// any) and the nodes that carry it there (Constant, Identity, Cast, Transpose), which go once nothing else reads them.
/// <see cref="StoredType"/> is the element type the model file holds it in, which sets its bytes before conversion.
/// </summary>
internal sealed record ResolvedWeight(float[] Values, long[] Dims, int ElementType, int StoredType, string? Initializer, IReadOnlyList<int> Nodes)
{
    public long StoredBytes => Values.LongLength * TensorValue.ElementBytes(StoredType);
}

/// <summary>
/// Finds the constant behind a tensor name: an initializer (inline, typed fields or external data; float, float16,
/// bfloat16 or double), a Constant node's value, or a chain of Identity, Cast and Transpose over one of those, folded.
/// PyTorch puts weights in initializers, Paddle2ONNX often in Constant nodes, and mixed-precision exports store
/// float16 weights behind a Cast to float. Anything else is not a constant, and <see cref="Resolve"/> says what it is.
/// </summary>
internal sealed class WeightCatalog
{
    // Deeper chains than this are not what an exporter writes; the limit also stops a cycle in a malformed graph.
    private const int MaxChain = 16;

    private readonly IReadOnlyDictionary<string, TensorValue> _initializers;
    private readonly IReadOnlyList<OnnxNodeProto> _nodes;
    private readonly Dictionary<string, int> _producers = new(StringComparer.Ordinal);
    private readonly IReadOnlySet<string> _graphInputs;
    private readonly string? _directory;
    private readonly Dictionary<string, ResolvedWeight> _resolved = new(StringComparer.Ordinal);

    public WeightCatalog(IReadOnlyDictionary<string, TensorValue> initializers, IReadOnlyList<OnnxNodeProto> nodes, IReadOnlySet<string> graphInputs, string? directory)
    {
        _initializers = initializers;
        _nodes = nodes;
        _graphInputs = graphInputs;
        _directory = directory;
        for (int i = 0; i < nodes.Count; i++)
        {
            foreach (string output in nodes[i].Outputs)
            {
                _producers.TryAdd(output, i);
            }
        }
    }

    /// <summary>The constant named <paramref name="name"/>, or null with <paramref name="problem"/> saying why it is not one.</summary>
    public ResolvedWeight? Resolve(string name, out string? problem) => Resolve(name, 0, out problem);

    private ResolvedWeight? Resolve(string name, int depth, out string? problem)
    {
        problem = null;
        if (_resolved.TryGetValue(name, out var cached))
        {
            return cached;
        }

        if (depth > MaxChain)
        {
            problem = $"come through more than {MaxChain} Identity/Cast/Transpose nodes";
            return null;
        }

        ResolvedWeight? resolved;
        if (_initializers.TryGetValue(name, out var initializer))
        {
            resolved = FromTensor(initializer, name, [], out problem);
        }
        else if (_producers.TryGetValue(name, out int index))
        {
            resolved = FromNode(index, depth, out problem);
        }
        else
        {
            problem = _graphInputs.Contains(name) ? "are a graph input fed at run time, not a constant" : "come from nowhere in the graph";
            return null;
        }

        if (resolved is not null)
        {
            _resolved[name] = resolved;
        }

        return resolved;
    }

    private ResolvedWeight? FromTensor(TensorValue tensor, string? initializer, int[] nodes, out string? problem)
    {
        problem = null;
        if (!tensor.IsFloatingPoint)
        {
            problem = $"have ONNX data type {tensor.DataType}, not float, float16, bfloat16 or double";
            return null;
        }

        return new ResolvedWeight(tensor.Floats(_directory), tensor.Dims, tensor.DataType, tensor.DataType, initializer, nodes);
    }

    private ResolvedWeight? FromNode(int index, int depth, out string? problem)
    {
        var node = _nodes[index];
        problem = null;
        if (node.Domain is not (OnnxDomains.Default or OnnxDomains.AiOnnx))
        {
            problem = $"are computed by a {node.Domain}::{node.OpType} node, not a constant";
            return null;
        }

        if (node.OpType == "Constant")
        {
            if (!node.Tensors.TryGetValue("value", out var tensor))
            {
                problem = "come from a Constant node without a tensor value";
                return null;
            }

            return FromTensor(TensorValue.Read(tensor), null, [index], out problem);
        }

        if (node.OpType is not ("Identity" or "Cast" or "Transpose") || node.Inputs.Count == 0)
        {
            problem = $"are computed by a {node.OpType} node, not a constant";
            return null;
        }

        if (Resolve(node.Inputs[0], depth + 1, out problem) is not { } source)
        {
            return null;
        }

        int[] chain = [.. source.Nodes, index];
        switch (node.OpType)
        {
            case "Identity":
                return source with { Nodes = chain };
            case "Cast":
                int to = (int)node.Int("to");
                if (to is not (OnnxDataType.Float or OnnxDataType.Float16 or OnnxDataType.BFloat16 or OnnxDataType.Double))
                {
                    problem = $"are cast to ONNX data type {to}, not a floating-point type";
                    return null;
                }

                // The values the layer sees are the cast's: rounded when it narrows them.
                float[] cast = to switch
                {
                    OnnxDataType.Float16 => [.. source.Values.Select(v => (float)(Half)v)],
                    OnnxDataType.BFloat16 => [.. source.Values.Select(TensorValue.RoundToBFloat16)],
                    _ => source.Values,
                };
                return source with { Values = cast, ElementType = to, Nodes = chain };
            default:
                long[] perm = node.IntLists.TryGetValue("perm", out var given) ? given : [.. Enumerable.Range(0, source.Dims.Length).Reverse().Select(i => (long)i)];
                if (perm.Length != source.Dims.Length || perm.Order().Select((p, i) => p == i).Any(same => !same))
                {
                    problem = $"go through a Transpose whose perm [{string.Join(", ", perm)}] does not fit rank {source.Dims.Length}";
                    return null;
                }

                var (values, dims) = Transpose(source.Values, source.Dims, perm);
                return source with { Values = values, Dims = dims, Nodes = chain };
        }
    }

    /// <summary>An N-D transpose: output axis i is input axis perm[i].</summary>
    internal static (float[] Values, long[] Dims) Transpose(float[] values, long[] dims, long[] perm)
    {
        int rank = dims.Length;
        long[] outDims = [.. perm.Select(p => dims[p])];
        var inStrides = new long[rank];
        long stride = 1;
        for (int axis = rank - 1; axis >= 0; axis--)
        {
            inStrides[axis] = stride;
            stride *= dims[axis];
        }

        var result = new float[values.Length];
        var index = new long[rank];
        for (long o = 0; o < result.LongLength; o++)
        {
            long source = 0;
            for (int axis = 0; axis < rank; axis++)
            {
                source += index[axis] * inStrides[perm[axis]];
            }

            result[o] = values[source];
            for (int axis = rank - 1; axis >= 0; axis--)
            {
                if (++index[axis] < outDims[axis])
                {
                    break;
                }

                index[axis] = 0;
            }
        }

        return (result, outDims);
    }
}
