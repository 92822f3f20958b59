using EdgeRuntime.Kernels.Ternary;

namespace EdgeRuntime.Generation.Families.BitNet;

/// <summary>
/// One BitLinear projection: [Rows = out, Columns = in] ternary weights packed as <see cref="TernaryPacking"/> lays them
/// out, and the per-tensor scale β (mean |W| of the latent weights) that multiplies every output.
/// </summary>
public sealed record TernaryMatrix(int Rows, int Columns, byte[] Packed, float Beta)
{
    public static TernaryMatrix FromTernary(ReadOnlySpan<sbyte> weights, int rows, int columns, float beta) =>
        new(rows, columns, TernaryPacking.Pack(weights, rows, columns), beta);

    public int WeightAt(int row, int column) => TernaryPacking.WeightAt(Packed, Columns, row, column);
}
