using EdgeRuntime.Onnx;

namespace EdgeRuntime.Kernels.Ternary;

/// <summary>
/// How BitLinear's ternary weights are packed, named by weights per byte (the value of the op's <c>trits_per_byte</c>
/// attribute): four at 2 bits each (<see cref="TernaryPacking"/>, the default), or five in base 3 at 1.6 bits
/// (<see cref="TritPacking"/>), 20 % fewer bytes to read per token for more work to unpack them.
/// </summary>
public enum TernaryLayout
{
    /// <summary>2 bits per weight: <see cref="TernaryPacking"/>.</summary>
    FourPerByte = 4,

    /// <summary>Five weights per byte as one base-3 number, 1.6 bits per weight: <see cref="TritPacking"/>.</summary>
    FivePerByte = 5,
}

/// <summary>Sizes and packing for either <see cref="TernaryLayout"/>.</summary>
public static class TernaryLayouts
{
    /// <summary>The BitLinear node attribute that names the layout.</summary>
    public const string AttributeName = "trits_per_byte";

    /// <summary>
    /// The attributes a BitLinear node in this layout carries: none for the 2-bit layout, the op's default, so models and
    /// folders written before the 1.6-bit layout existed stay byte for byte the same.
    /// </summary>
    public static NodeAttribute[] NodeAttributes(this TernaryLayout layout) =>
        layout == TernaryLayout.FourPerByte ? [] : [new NodeAttribute(AttributeName, Int: (int)layout)];

    /// <summary>The layout an op attribute or command-line value names: 4 or 5 weights per byte.</summary>
    public static TernaryLayout FromTritsPerByte(long tritsPerByte) => tritsPerByte switch
    {
        4 => TernaryLayout.FourPerByte,
        5 => TernaryLayout.FivePerByte,
        _ => throw new ArgumentException($"trits_per_byte is {tritsPerByte}; it must be 4 (2-bit layout) or 5 (1.6-bit base-3 layout)."),
    };

    /// <summary>K rounded up to the layout's block: the length of a quantized activation row.</summary>
    public static int PaddedK(this TernaryLayout layout, int k) =>
        layout == TernaryLayout.FivePerByte ? TritPacking.PaddedK(k) : TernaryPacking.PaddedK(k);

    /// <summary>The bytes one packed row of K weights takes.</summary>
    public static int RowBytes(this TernaryLayout layout, int k) =>
        layout == TernaryLayout.FivePerByte ? TritPacking.RowBytes(k) : TernaryPacking.RowBytes(k);

    /// <summary>
    /// The shape of the op's W input: [N, RowBytes(K)] for 2 bits a weight, [N, ceil(K/160), 32] (rows of 32-byte blocks)
    /// for five weights a byte. The ranks differ so that weights of one layout can never pass for the other: at some K
    /// (256 or 512, for instance) both layouts take the same bytes per row, and a runtime that does not know the
    /// attribute refuses the rank-3 form instead of reading it as 2-bit.
    /// </summary>
    public static long[] WeightShape(this TernaryLayout layout, int n, int k)
    {
        Span<long> shape = stackalloc long[MaxWeightRank];
        return shape[..layout.WeightShape(n, k, shape)].ToArray();
    }

    /// <summary>The largest rank <see cref="WeightShape(TernaryLayout, int, int)"/> gives.</summary>
    public const int MaxWeightRank = 3;

    /// <summary>
    /// The same shape written into <paramref name="into"/> (at least <see cref="MaxWeightRank"/> long), returning its rank:
    /// the op checks W against it on every run, and a run allocates nothing.
    /// </summary>
    public static int WeightShape(this TernaryLayout layout, int n, int k, Span<long> into)
    {
        into[0] = n;
        if (layout == TernaryLayout.FivePerByte)
        {
            into[1] = TritPacking.RowBytes(k) / TritPacking.BlockBytes;
            into[2] = TritPacking.BlockBytes;
            return 3;
        }

        into[1] = TernaryPacking.RowBytes(k);
        return 2;
    }

    /// <summary>Packs ternary weights (row-major [n, k], each -1, 0 or +1) in the layout.</summary>
    public static byte[] Pack(this TernaryLayout layout, ReadOnlySpan<sbyte> weights, int n, int k) =>
        layout == TernaryLayout.FivePerByte ? TritPacking.Pack(weights, n, k) : TernaryPacking.Pack(weights, n, k);

    /// <summary>The weight at [row, i] of a matrix packed in the layout.</summary>
    public static int WeightAt(this TernaryLayout layout, ReadOnlySpan<byte> packed, int k, int row, int i) =>
        layout == TernaryLayout.FivePerByte ? TritPacking.WeightAt(packed, k, row, i) : TernaryPacking.WeightAt(packed, k, row, i);
}
